#include "protocol/cluster_file.h"

#include <algorithm>

#include "common/manifest.h"
#include "protocol/json_fields.h"

namespace gc {

bool IsClusterFilePath(std::string_view path) {
  bool printable = std::none_of(path.begin(), path.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  return path.size() <= kMaxClusterFilePathBytes && printable && path != "." &&
         ValidateRelativePath(path).ok();
}

uint32_t ClusterFileMode(std::string_view path) { return path == kCalibrationPath ? 0755 : 0644; }

OrderedJson ClusterFilesJson(const std::vector<ClusterFile>& files) {
  OrderedJson list = OrderedJson::array();
  for (const ClusterFile& file : files) {
    list.push_back({{"path", file.path}, {"mode", file.mode}, {"content", file.content}});
  }
  return list;
}

Result<std::vector<ClusterFile>> ReadClusterFiles(const JsonFields& fields, std::string_view key) {
  std::vector<ClusterFile> files;
  GC_ASSIGN_OR_RETURN(const Json* list, fields.Member(key, Json::value_t::array));
  if (!list) return files;
  if (list->size() > kMaxClusterFiles) {
    return fields.Bad(key, "more than " + std::to_string(kMaxClusterFiles) + " files");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    std::string at = std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.is_object()) return fields.WrongType(at, item, "an object");
    JsonFields file_fields = fields.Nested(item, at);
    ClusterFile file;
    uint64_t mode = 0;
    GC_RETURN_IF_ERROR(file_fields.String("path", &file.path, JsonFields::kRequired));
    GC_RETURN_IF_ERROR(file_fields.String("content", &file.content, JsonFields::kRequired));
    GC_RETURN_IF_ERROR(file_fields.Count("mode", &mode, JsonFields::kRequired));
    if (!IsClusterFilePath(file.path)) {
      return file_fields.Bad("path", "not a relative path such as etc/openmosix.map");
    }
    if (mode > kMaxClusterFileMode) return file_fields.Bad("mode", "beyond 0777 (octal)");
    if (file.content.size() > kMaxClusterFileBytes) {
      return file_fields.Bad("content",
                             "longer than " + std::to_string(kMaxClusterFileBytes) + " bytes");
    }
    file.mode = static_cast<uint32_t>(mode);
    files.push_back(std::move(file));
  }
  return files;
}

}  // namespace gc
