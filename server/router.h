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
  void Add(std::string area, Matcher matches, HttpHandler handler);

  // 404 when no area claims the path. Thread-safe once set up.
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  struct Area {
    std::string name;
    Matcher matches;
    HttpHandler handler;
  };
  std::vector<Area> areas_;
};

}  // namespace gc
