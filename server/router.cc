#include "server/router.h"

namespace gc {

void Router::Add(std::string area, Matcher matches, HttpHandler handler, HttpAdmitter admit) {
  areas_.push_back(Area{std::move(area), std::move(matches), std::move(handler), std::move(admit)});
}

HttpAdmission Router::Admit(const HttpRequest& head) const {
  for (const Area& area : areas_) {
    if (!area.matches(head.path)) continue;
    if (area.admit) return area.admit(head);
    break;
  }
  return HttpAdmission{};  // no body
}

HttpResponse Router::Handle(const HttpRequest& request) const {
  for (const Area& area : areas_) {
    if (area.matches(request.path)) return area.handler(request);
  }
  return HttpResponse::Text(404, "no such path\n");
}

}  // namespace gc
