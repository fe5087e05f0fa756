#include "server/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace gc {
namespace {

HttpRequest Get(const std::string& path) {
  HttpRequest request;
  request.method = "GET";
  request.path = path;
  return request;
}

bool Under(std::string_view path, std::string_view prefix) { return path.rfind(prefix, 0) == 0; }

TEST(RouterTest, TheFirstAreaThatClaimsThePathAnswers) {
  Router router;
  std::vector<std::string> asked;
  router.Add(
      "node API", [](std::string_view path) { return Under(path, "/v1/node/"); },
      [&](const HttpRequest& r) {
        asked.push_back("node API " + r.path);
        return HttpResponse::Text(200, "node");
      });
  router.Add(
      "everything under /v1", [](std::string_view path) { return Under(path, "/v1/"); },
      [&](const HttpRequest& r) {
        asked.push_back("v1 " + r.path);
        return HttpResponse::Text(201, "v1");
      });
  EXPECT_EQ(router.Handle(Get("/v1/node/plan")).body, "node");
  HttpResponse admin = router.Handle(Get("/v1/admin"));
  EXPECT_EQ(admin.status, 201);
  EXPECT_EQ(admin.body, "v1");
  EXPECT_THAT(asked, ::testing::ElementsAre("node API /v1/node/plan", "v1 /v1/admin"));
}

TEST(RouterTest, NoAreaIs404) {
  Router router;
  EXPECT_EQ(router.Handle(Get("/")).status, 404);
  int calls = 0;
  router.Add(
      "boot", [](std::string_view path) { return Under(path, "/boot/"); },
      [&](const HttpRequest&) {
        ++calls;
        return HttpResponse::Text(200, "boot");
      });
  HttpResponse response = router.Handle(Get("/metrics"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "no such path\n");
  EXPECT_EQ(calls, 0);
}

// Admission goes to the area that claims the path; an area without one,
// or a path no area claims, may send no body.
TEST(RouterTest, AdmissionComesFromTheAreaOfThePath) {
  Router router;
  router.Add(
      "node", [](std::string_view path) { return Under(path, "/v1/node/"); },
      [](const HttpRequest&) { return HttpResponse::Text(200, "node"); },
      [](const HttpRequest& head) {
        HttpAdmission admission;
        if (head.headers.empty()) admission.refusal = HttpResponse::Text(401, "no\n");
        admission.max_body_bytes = 1000;
        return admission;
      });
  router.Add(
      "boot", [](std::string_view path) { return Under(path, "/boot/"); },
      [](const HttpRequest&) { return HttpResponse::Text(200, "boot"); });
  HttpRequest node = Get("/v1/node/plan");
  EXPECT_EQ(router.Admit(node).refusal->status, 401);
  node.headers["authorization"] = "Bearer x";
  EXPECT_FALSE(router.Admit(node).refusal);
  EXPECT_EQ(router.Admit(node).max_body_bytes, 1000u);
  EXPECT_FALSE(router.Admit(Get("/boot/ipxe")).refusal);
  EXPECT_EQ(router.Admit(Get("/boot/ipxe")).max_body_bytes, 0u);
  EXPECT_EQ(router.Admit(Get("/nowhere")).max_body_bytes, 0u);
}

TEST(RouterTest, TheHandlerGetsTheWholeRequest) {
  Router router;
  router.Add(
      "echo", [](std::string_view) { return true; },
      [](const HttpRequest& r) { return HttpResponse::Text(200, r.method + " " + r.body); });
  HttpRequest post = Get("/anything");
  post.method = "POST";
  post.body = "payload";
  EXPECT_EQ(router.Handle(post).body, "POST payload");
}

}  // namespace
}  // namespace gc
