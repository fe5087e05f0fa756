// A kernel artifact as `goldcast kernel build` publishes it, without
// building one: for the tests of what serves kernels to nodes (boot
// service, node API). Header-only: only tests that link gc_kernel include it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "kernel-build/kernel_store.h"
#include "tests/testing/temp_dir.h"

namespace gc::testing {

// The module every test kernel carries, under modules/.
constexpr char kTestModulePath[] = "lib/modules/6.1.176/kernel/drivers/net/virtio_net.ko";

// Publishes kernel `name` (release 6.1.176) in the kernel store of
// `state_dir`, creating the store: vmlinuz "bzImage bytes", System.map,
// config "CONFIG_64BIT=y\n", build.log and modules/ with kTestModulePath
// ("module bytes") and modules.dep. A failure fails the test.
inline void PublishTestKernel(const std::string& state_dir, const std::string& name) {
  auto kernels = KernelStore::Open(state_dir, /*create=*/true);
  ASSERT_TRUE(kernels.ok()) << kernels.status().message();
  auto staging = (*kernels)->NewStagingDir();
  ASSERT_TRUE(staging.ok()) << staging.status().message();
  WriteTestFile(*staging + "/vmlinuz", "bzImage bytes");
  WriteTestFile(*staging + "/System.map", "map");
  WriteTestFile(*staging + "/config", "CONFIG_64BIT=y\n");
  WriteTestFile(*staging + "/build.log", "$ make\n");
  WriteTestFile(*staging + "/inputs.json", R"({"inputs_key": "k1"})");
  WriteTestFile(*staging + "/artifact.json", R"({"kernel_release": "6.1.176"})");
  WriteTestFile(*staging + "/modules/" + kTestModulePath, "module bytes");
  WriteTestFile(*staging + "/modules/lib/modules/6.1.176/modules.dep", "kernel/x.ko:\n");
  auto published = (*kernels)->Publish(name, *staging);
  ASSERT_TRUE(published.ok()) << published.status().message();
}

}  // namespace gc::testing
