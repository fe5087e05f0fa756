// A node registry database in a fresh temp dir, opened for the lab cluster
// (lab_profile.h), and nodes as it lists them. Header-only: only tests that
// link gc_cluster include it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "cluster/node_registry.h"
#include "tests/testing/lab_profile.h"
#include "tests/testing/temp_dir.h"

namespace gc::testing {

// Node mosixINDEX at `ip` in `group`, as the registry would list it.
inline Node NodeAt(int index, const std::string& ip, const std::string& group = "") {
  Node node;
  node.index = index;
  node.name = "mosix" + std::to_string(index);
  node.ip = ip;
  node.group = group;
  return node;
}

// Opens (creating) the registry database `db` for `profile`. A failure fails
// the test and returns null: callers ASSERT_TRUE on the result.
inline std::unique_ptr<NodeRegistry> OpenRegistry(const std::string& db,
                                                  const ClusterProfile& profile = LabProfile()) {
  auto registry = NodeRegistry::Open(db, profile);
  EXPECT_TRUE(registry.ok()) << db << ": " << registry.status().message();
  return registry.ok() ? std::move(registry).value() : nullptr;
}

// A test with its own registry database path (not yet created).
class RegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeRegistry> MustOpen(const ClusterProfile& profile = LabProfile()) {
    return OpenRegistry(db_, profile);
  }

  TempDir dir_;
  std::string db_ = dir_.Sub("registry.db");
};

}  // namespace gc::testing
