// Router: the one HTTP handler of `goldcast serve`. Each area (boot
// service, node API; later admin API, dashboard, metrics) registers the
// paths it answers and its handler; the router holds no logic of its own.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_server.h"

namespace gc {

class Router {
 public:
  using Matcher = std::function<bool(std::string_view path)>;

  // Areas are asked in the order they were added; the first whose matcher
  // accepts the path answers. Add everything before the server starts.
  // `admit` decides, before any body is read, whether the area takes the
  // request and how much body it may send (HttpServerOptions::admit);
  // without one the area takes no body at all.
  void Add(std::string area, Matcher matches, HttpHandler handler, HttpAdmitter admit = nullptr);

  // 404 when no area claims the path. Thread-safe once set up.
  HttpResponse Handle(const HttpRequest& request) const;
  // The admission of the area that claims the path; a path nobody claims
  // may send no body (its answer is 404 anyway). Thread-safe once set up.
  HttpAdmission Admit(const HttpRequest& head) const;

 private:
  struct Area {
    std::string name;
    Matcher matches;
    HttpHandler handler;
    HttpAdmitter admit;
  };
  std::vector<Area> areas_;
};

}  // namespace gc
