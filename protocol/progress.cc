#include "protocol/progress.h"

#include <algorithm>
#include <iterator>

#include "protocol/json_fields.h"

namespace gc {

namespace {

constexpr const char* kInstallPhases[] = {"partition", "format",     "image", "kernel",
                                          "identity",  "bootloader", "done",  "failed"};

}  // namespace

bool IsInstallPhase(std::string_view phase) {
  return std::find(std::begin(kInstallPhases), std::end(kInstallPhases), phase) !=
         std::end(kInstallPhases);
}

std::string EncodeProgress(const ProgressReport& report) {
  OrderedJson doc;
  doc["phase"] = report.phase;
  doc["done"] = report.done;
  doc["total"] = report.total;
  doc["message"] = report.message;
  return DumpJson(doc);
}

Result<ProgressReport> DecodeProgress(std::string_view body) {
  GC_ASSIGN_OR_RETURN(Json doc, ParseJsonObject(body, "progress", kMaxReportBytes));
  JsonFields fields(doc, "progress");
  ProgressReport report;
  GC_RETURN_IF_ERROR(fields.Text("phase", 32, &report.phase, JsonFields::kRequired));
  if (!IsInstallPhase(report.phase)) {
    return fields.Bad("phase", "'" + report.phase +
                                   "' is not one of partition, format, image, kernel, identity, "
                                   "bootloader, done, failed");
  }
  GC_RETURN_IF_ERROR(fields.Count("done", &report.done));
  GC_RETURN_IF_ERROR(fields.Count("total", &report.total));
  GC_RETURN_IF_ERROR(fields.String("message", &report.message));
  report.message = CleanText(report.message, kMaxProgressMessageBytes);
  return report;
}

}  // namespace gc
