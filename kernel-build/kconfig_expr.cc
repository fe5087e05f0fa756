// Kconfig expressions evaluated against a resolved .config (kconfig.h).
#include "kernel-build/kconfig.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

namespace gc {

namespace {

struct Token {
  enum Kind { kWord, kString, kOp, kEnd } kind;
  std::string text;
};

bool Tokenize(std::string_view expr, std::vector<Token>* out) {
  for (size_t i = 0; i < expr.size();) {
    char c = expr[i];
    if (c == ' ' || c == '\t') {
      ++i;
    } else if (c == '$') {
      return false;  // $(macro): evaluated by kconfig at parse time, not here
    } else if (c == '"' || c == '\'') {
      size_t end = expr.find(c, i + 1);
      if (end == std::string_view::npos) return false;
      out->push_back({Token::kString, std::string(expr.substr(i + 1, end - i - 1))});
      i = end + 1;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') {
      size_t end = i;
      while (end < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[end])) ||
                                   expr[end] == '_' || expr[end] == '-')) {
        ++end;
      }
      out->push_back({Token::kWord, std::string(expr.substr(i, end - i))});
      i = end;
    } else {
      static const char* kOps[] = {"&&", "||", "!=", "<=", ">=", "=", "<", ">", "!", "(", ")"};
      bool matched = false;
      for (const char* op : kOps) {
        size_t len = std::char_traits<char>::length(op);
        if (expr.substr(i, len) == op) {
          out->push_back({Token::kOp, op});
          i += len;
          matched = true;
          break;
        }
      }
      if (!matched) return false;
    }
  }
  out->push_back({Token::kEnd, ""});
  return true;
}

class Evaluator {
 public:
  Evaluator(std::vector<Token> tokens, const DotConfig& config)
      : tokens_(std::move(tokens)), config_(config) {}

  std::optional<int> Run() {
    auto value = Or();
    if (!value || tokens_[pos_].kind != Token::kEnd) return std::nullopt;
    return value;
  }

 private:
  bool Accept(const char* op) {
    if (tokens_[pos_].kind == Token::kOp && tokens_[pos_].text == op) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::optional<int> Or() {
    auto left = And();
    while (left && Accept("||")) {
      auto right = And();
      if (!right) return std::nullopt;
      left = std::max(*left, *right);
    }
    return left;
  }

  std::optional<int> And() {
    auto left = Unary();
    while (left && Accept("&&")) {
      auto right = Unary();
      if (!right) return std::nullopt;
      left = std::min(*left, *right);
    }
    return left;
  }

  std::optional<int> Unary() {
    if (Accept("!")) {
      auto value = Unary();
      if (!value) return std::nullopt;
      return 2 - *value;
    }
    return Primary();
  }

  // The string value of a term: a symbol's resolved value, or the literal.
  std::string StringValue(const Token& token) {
    if (token.kind == Token::kString) return token.text;
    auto it = config_.find("CONFIG_" + token.text);
    if (it != config_.end()) {
      std::string value = it->second;
      if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
      return value;
    }
    if (token.text == "y" || token.text == "m" || token.text == "n") return token.text;
    bool numeric =
        !token.text.empty() && std::all_of(token.text.begin(), token.text.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == 'x' || c == '-';
        });
    return numeric ? token.text : "n";
  }

  static int Tristate(const std::string& value) {
    if (value == "y") return 2;
    if (value == "m") return 1;
    return 0;
  }

  std::optional<int> Primary() {
    if (Accept("(")) {
      auto value = Or();
      if (!value || !Accept(")")) return std::nullopt;
      return value;
    }
    Token left = tokens_[pos_];
    if (left.kind != Token::kWord && left.kind != Token::kString) return std::nullopt;
    ++pos_;
    for (const char* op : {"=", "!=", "<=", ">=", "<", ">"}) {
      if (!Accept(op)) continue;
      Token right = tokens_[pos_];
      if (right.kind != Token::kWord && right.kind != Token::kString) return std::nullopt;
      ++pos_;
      std::string a = StringValue(left), b = StringValue(right);
      std::string cmp = op;
      if (cmp == "=") return a == b ? 2 : 0;
      if (cmp == "!=") return a != b ? 2 : 0;
      char* end_a = nullptr;
      char* end_b = nullptr;
      long long na = std::strtoll(a.c_str(), &end_a, 0);
      long long nb = std::strtoll(b.c_str(), &end_b, 0);
      bool numbers = !a.empty() && !b.empty() && *end_a == '\0' && *end_b == '\0';
      bool result = numbers ? (cmp == "<"    ? na < nb
                               : cmp == ">"  ? na > nb
                               : cmp == "<=" ? na <= nb
                                             : na >= nb)
                            : (cmp == "<"    ? a < b
                               : cmp == ">"  ? a > b
                               : cmp == "<=" ? a <= b
                                             : a >= b);
      return result ? 2 : 0;
    }
    return Tristate(StringValue(left));
  }

  std::vector<Token> tokens_;
  const DotConfig& config_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<int> EvalKconfigExpr(std::string_view expr, const DotConfig& config) {
  std::vector<Token> tokens;
  if (!Tokenize(expr, &tokens)) return std::nullopt;
  return Evaluator(std::move(tokens), config).Run();
}

std::string DescribeSymbols(std::string_view expr, const DotConfig& config) {
  std::vector<std::string> names;
  for (size_t i = 0; i < expr.size();) {
    if (std::isupper(static_cast<unsigned char>(expr[i])) || expr[i] == '_' ||
        std::isdigit(static_cast<unsigned char>(expr[i]))) {
      size_t end = i;
      while (end < expr.size() &&
             (std::isalnum(static_cast<unsigned char>(expr[end])) || expr[end] == '_')) {
        ++end;
      }
      std::string word(expr.substr(i, end - i));
      if (word.rfind("CONFIG_", 0) == 0) word = word.substr(7);
      bool is_symbol = std::any_of(word.begin(), word.end(), [](char c) {
        return std::isupper(static_cast<unsigned char>(c));
      });
      if (is_symbol && (i == 0 || expr[i - 1] != '"') &&
          std::find(names.begin(), names.end(), word) == names.end()) {
        names.push_back(word);
      }
      i = end;
    } else if (std::isalnum(static_cast<unsigned char>(expr[i]))) {
      while (i < expr.size() && std::isalnum(static_cast<unsigned char>(expr[i]))) ++i;
    } else {
      ++i;
    }
  }
  std::string out;
  for (const auto& name : names) {
    auto it = config.find("CONFIG_" + name);
    std::string value = it == config.end() ? "n (absent)" : it->second;
    out += (out.empty() ? "" : ", ") + name + "=" + value;
  }
  return out;
}

}  // namespace gc
