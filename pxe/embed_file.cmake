# cmake -DIN=FILE -DOUT=FILE.cc -DNAME=Symbol -P embed_file.cmake
# Writes FILE.cc defining gc::kSymbol, a std::string_view of FILE's bytes.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}.tmp"
  "// Generated from ${IN} by embed_file.cmake; do not edit.\n"
  "#include <string_view>\n"
  "namespace gc {\n"
  "namespace {\n"
  "const unsigned char kData[] = {${bytes}};\n"
  "}  // namespace\n"
  "extern const std::string_view k${NAME};\n"
  "const std::string_view k${NAME}(reinterpret_cast<const char*>(kData), sizeof(kData));\n"
  "}  // namespace gc\n")
file(RENAME "${OUT}.tmp" "${OUT}")
