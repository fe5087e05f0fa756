// The manifest's text format (docs/store-format.md): SerializeManifest and
// ParseManifest, with the %XX escaping, field syntax, and the trailer's count
// and checksum. The rules every entry must follow (order, parents, targets)
// are checked by CheckEntry in manifest.cc, while parsing.
#include <charconv>
#include <cstring>
#include <utility>

#include "common/hash.h"
#include "common/manifest.h"
#include "common/manifest_internal.h"

namespace gc {

namespace {

constexpr std::string_view kMagic = "goldcast-manifest ";
constexpr std::string_view kHeader = "goldcast-manifest 1";
constexpr size_t kFieldCount = 12;
// Bytes of a bad field quoted in an error: enough to recognise it, never a
// megabyte of attacker-chosen text in a log line.
constexpr size_t kMaxQuoted = 80;
constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";

bool NeedsEscape(unsigned char c, bool xattr_name) {
  return c <= 0x20 || c == 0x7f || c == '%' || (xattr_name && (c == ',' || c == '='));
}

}  // namespace

namespace manifest_internal {

void AppendEscaped(std::string* out, std::string_view text, bool xattr_name) {
  size_t run = 0;  // start of the pending run of literal bytes
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (!NeedsEscape(c, xattr_name)) continue;
    out->append(text.data() + run, i - run);
    out->push_back('%');
    out->push_back(kUpperHex[c >> 4]);
    out->push_back(kUpperHex[c & 0xf]);
    run = i + 1;
  }
  out->append(text.data() + run, text.size() - run);
}

std::string Quote(std::string_view text) {
  std::string out = "'";
  AppendEscaped(&out, text.substr(0, kMaxQuoted), false);
  if (text.size() > kMaxQuoted) out += "...";
  out += "'";
  return out;
}

}  // namespace manifest_internal

using manifest_internal::AppendEscaped;
using manifest_internal::AppendNumber;
using manifest_internal::Article;
using manifest_internal::CheckEntry;
using manifest_internal::Quote;
using manifest_internal::Where;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes AppendEscaped. Returns the problem, or an empty string.
std::string Unescape(std::string_view in, std::string* out) {
  out->clear();
  size_t run = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c != '%') {
      if (c <= 0x20 || c == 0x7f) {
        return "raw byte 0x" + std::string{kUpperHex[c >> 4], kUpperHex[c & 0xf]} + " at offset " +
               std::to_string(i) + " must be written as %XX";
      }
      continue;
    }
    bool room = i + 2 < in.size();
    int hi = room ? HexValue(in[i + 1]) : -1;
    int lo = room ? HexValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return "bad escape at offset " + std::to_string(i) +
             ": a '%' must be followed by two hex digits (a literal '%' is written %25)";
    }
    out->append(in.data() + run, i - run);
    out->push_back(static_cast<char>((hi << 4) | lo));
    i += 2;
    run = i + 1;
  }
  out->append(in.data() + run, in.size() - run);
  return {};
}

template <typename T>
std::string ParseNumber(std::string_view text, T* out, int base = 10) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out, base);
  if (ec == std::errc::result_out_of_range) return Quote(text) + " is out of range";
  if (ec != std::errc() || ptr != end || text.empty()) {
    return Quote(text) + (base == 8 ? " is not an octal number" : " is not a decimal number");
  }
  return {};
}

// Splits "a<sep>b" into two numbers.
template <typename T>
std::string ParsePair(std::string_view text, char separator, T* first, T* second) {
  size_t split = text.find(separator);
  if (split == std::string_view::npos) {
    return Quote(text) + " is not '<number>" + std::string(1, separator) + "<number>'";
  }
  std::string problem = ParseNumber(text.substr(0, split), first);
  if (problem.empty()) problem = ParseNumber(text.substr(split + 1), second);
  return problem;
}

Status ParseXattrs(std::string_view text, const Where& where, std::vector<Xattr>* out) {
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      return where.Error("xattrs", "item " + Quote(item) + " is not 'name=hexvalue'");
    }
    Xattr& xattr = out->emplace_back();
    std::string problem = Unescape(item.substr(0, equals), &xattr.name);
    if (!problem.empty()) return where.Error("xattrs", "name: " + problem);
    if (!HexDecode(item.substr(equals + 1), &xattr.value)) {
      return where.Error("xattrs", "value of " + Quote(xattr.name) + " is not hex");
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return where.Error("xattrs", "ends with ','");
  }
  return Status::Ok();
}

Status ParseExtents(std::string_view text, const Where& where, std::vector<Extent>* out) {
  while (!text.empty()) {
    size_t comma = text.find(',');
    Extent& extent = out->emplace_back();
    std::string problem = ParsePair(text.substr(0, comma), ':', &extent.offset, &extent.length);
    if (!problem.empty()) return where.Error("extents", problem);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return where.Error("extents", "ends with ','");
  }
  return Status::Ok();
}

Status ParseEntryLine(std::string_view line, const Where& where, Entry* e) {
  std::string_view f[kFieldCount];
  size_t count = 0;
  for (;;) {
    size_t tab = line.find('\t');
    if (count == kFieldCount) {
      return where.Error("entry",
                         "has more than " + std::to_string(kFieldCount) + " TAB-separated fields");
    }
    f[count++] = line.substr(0, tab);
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  if (count != kFieldCount) {
    return where.Error("entry", "has " + std::to_string(count) +
                                    " TAB-separated fields, "
                                    "expected 12: type, path, mode, uid, gid, mtime, size, hash, "
                                    "target, rdev, xattrs, extents");
  }
  if (f[0].size() != 1 || std::string_view("fdlhcbps").find(f[0][0]) == std::string_view::npos) {
    return where.Error("type", Quote(f[0]) + " is not one of f d l h c b p s");
  }
  e->type = static_cast<EntryType>(f[0][0]);
  std::string problem = Unescape(f[1], &e->path);
  if (!problem.empty()) return where.Error("path", problem);
  if (f[2].size() > 4) return where.Error("mode", Quote(f[2]) + " has more than 4 octal digits");
  if (!(problem = ParseNumber(f[2], &e->mode, 8)).empty()) return where.Error("mode", problem);
  if (!(problem = ParseNumber(f[3], &e->uid)).empty()) return where.Error("uid", problem);
  if (!(problem = ParseNumber(f[4], &e->gid)).empty()) return where.Error("gid", problem);
  if (!(problem = ParseNumber(f[5], &e->mtime_ns)).empty()) return where.Error("mtime", problem);
  if (!(problem = ParseNumber(f[6], &e->size)).empty()) return where.Error("size", problem);
  if (!f[7].empty() && !IsValidHashHex(f[7])) {
    return where.Error("hash", Quote(f[7]) + " is not 64 lowercase hex digits");
  }
  e->hash.assign(f[7]);
  if (!(problem = Unescape(f[8], &e->target)).empty()) return where.Error("target", problem);
  bool device = e->type == EntryType::kCharDevice || e->type == EntryType::kBlockDevice;
  if (device) {
    if (f[9].empty()) return where.Error("rdev", "a device needs 'major:minor'");
    problem = ParsePair(f[9], ':', &e->rdev_major, &e->rdev_minor);
    if (!problem.empty()) return where.Error("rdev", problem);
  } else if (!f[9].empty()) {
    return where.Error("rdev",
                       "only character and block devices have rdev, this is " + Article(e->type));
  }
  GC_RETURN_IF_ERROR(ParseXattrs(f[10], where, &e->xattrs));
  return ParseExtents(f[11], where, &e->data_extents);
}

void AppendEntry(std::string* out, const Entry& e) {
  out->push_back(static_cast<char>(e.type));
  out->push_back('\t');
  AppendEscaped(out, e.path, false);
  out->push_back('\t');
  for (int shift = 9; shift >= 0; shift -= 3) out->push_back(kLowerHex[(e.mode >> shift) & 7]);
  out->push_back('\t');
  AppendNumber(out, e.uid);
  out->push_back('\t');
  AppendNumber(out, e.gid);
  out->push_back('\t');
  AppendNumber(out, e.mtime_ns);
  out->push_back('\t');
  AppendNumber(out, e.size);
  out->push_back('\t');
  out->append(e.hash);
  out->push_back('\t');
  AppendEscaped(out, e.target, false);
  out->push_back('\t');
  if (e.type == EntryType::kCharDevice || e.type == EntryType::kBlockDevice) {
    AppendNumber(out, e.rdev_major);
    out->push_back(':');
    AppendNumber(out, e.rdev_minor);
  }
  out->push_back('\t');
  for (size_t k = 0; k < e.xattrs.size(); ++k) {
    if (k > 0) out->push_back(',');
    AppendEscaped(out, e.xattrs[k].name, true);
    out->push_back('=');
    for (unsigned char c : e.xattrs[k].value) {
      out->push_back(kLowerHex[c >> 4]);
      out->push_back(kLowerHex[c & 0xf]);
    }
  }
  out->push_back('\t');
  for (size_t k = 0; k < e.data_extents.size(); ++k) {
    if (k > 0) out->push_back(',');
    AppendNumber(out, e.data_extents[k].offset);
    out->push_back(':');
    AppendNumber(out, e.data_extents[k].length);
  }
  out->push_back('\n');
}

size_t CountLines(std::string_view text) {
  size_t lines = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p))))) {
    ++lines;
    ++p;
  }
  return lines;
}

// Checks the last line, "end <count> <sha256>", against the bytes before it.
// Returns the offset where the trailer starts and the entry count.
Status CheckTrailer(std::string_view text, size_t header_end, std::string_view source,
                    size_t* trailer_start, uint64_t* count) {
  size_t lines = CountLines(text);
  Where where{source, lines + (text.back() != '\n' ? 1 : 0)};
  const char* truncated = "; the manifest is truncated or modified";
  if (text.back() != '\n' || header_end + 1 == text.size()) {
    return where.Error("trailer", std::string("no 'end <count> <sha256>' line") + truncated,
                       Code::kCorrupt);
  }
  *trailer_start = text.rfind('\n', text.size() - 2) + 1;
  std::string_view trailer = text.substr(*trailer_start, text.size() - 1 - *trailer_start);
  std::string_view rest = trailer;
  bool well_formed = rest.starts_with("end ");
  if (well_formed) {
    rest.remove_prefix(4);
    size_t space = rest.find(' ');
    well_formed = space != std::string_view::npos &&
                  ParseNumber(rest.substr(0, space), count).empty() &&
                  IsValidHashHex(rest.substr(space + 1));
    if (well_formed) rest.remove_prefix(space + 1);
  }
  if (!well_formed) {
    return where.Error("trailer",
                       "last line " + Quote(trailer) + " is not 'end <count> <sha256>'" + truncated,
                       Code::kCorrupt);
  }
  if (Sha256Hex(text.substr(0, *trailer_start)) != rest) {
    return where.Error("trailer", std::string("checksum does not match the content") + truncated,
                       Code::kCorrupt);
  }
  if (*count != lines - 2) {
    return where.Error("trailer",
                       "says " + std::to_string(*count) + " entries but " +
                           std::to_string(lines - 2) + " precede it" + truncated,
                       Code::kCorrupt);
  }
  return Status::Ok();
}

}  // namespace

std::string SerializeManifest(const Manifest& manifest) {
  std::string out;
  out.reserve(64 + manifest.entries.size() * 160);
  out.append(kHeader).push_back('\n');
  for (const Entry& e : manifest.entries) AppendEntry(&out, e);
  std::string checksum = Sha256Hex(out);
  out.append("end ");
  AppendNumber(&out, manifest.entries.size());
  out.append(" ").append(checksum).push_back('\n');
  return out;
}

Result<Manifest> ParseManifest(std::string_view text, std::string_view source_name) {
  Where where{source_name, 1};
  if (text.empty()) {
    return where.Error("header", "file is empty; the manifest is truncated or modified",
                       Code::kCorrupt);
  }
  size_t header_end = text.find('\n');
  std::string_view header = text.substr(0, header_end);
  if (header != kHeader) {
    if (header.starts_with(kMagic)) {
      return where.Error("header",
                         "format version " + Quote(header.substr(kMagic.size())) +
                             " is not supported; this goldcast reads version 1 "
                             "(upgrade goldcast to read newer manifests)",
                         Code::kUnsupported);
    }
    return where.Error("header", "not a goldcast manifest (the first line must be '" +
                                     std::string(kHeader) + "')");
  }
  size_t trailer_start = 0;
  uint64_t count = 0;
  if (header_end == std::string_view::npos) header_end = text.size();
  GC_RETURN_IF_ERROR(CheckTrailer(text, header_end, source_name, &trailer_start, &count));

  Manifest manifest;
  manifest.entries.reserve(count);
  size_t parent_hint = 0;
  size_t start = header_end + 1;
  while (start < trailer_start) {
    size_t end = text.find('\n', start);
    where.line = manifest.entries.size() + 2;
    Entry& entry = manifest.entries.emplace_back();
    GC_RETURN_IF_ERROR(ParseEntryLine(text.substr(start, end - start), where, &entry));
    GC_RETURN_IF_ERROR(
        CheckEntry(manifest.entries, manifest.entries.size() - 1, where, &parent_hint));
    start = end + 1;
  }
  if (manifest.entries.empty()) {
    where.line = 2;
    return where.Error("path", "the manifest has no entries; the first must be the root '.'");
  }
  return manifest;
}

}  // namespace gc
