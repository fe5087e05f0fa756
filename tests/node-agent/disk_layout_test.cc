#include "node-agent/disk_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace gc {
namespace {

using ::testing::HasSubstr;

TEST(DiskLayoutTest, PartitionDeviceNames) {
  EXPECT_EQ(PartitionDevice("/dev/vda", 1), "/dev/vda1");
  EXPECT_EQ(PartitionDevice("/dev/nvme0n1", 2), "/dev/nvme0n1p2");
  EXPECT_EQ(PartitionDevice("/dev/loop0", 1), "/dev/loop0p1");
}

TEST(DiskLayoutTest, DefaultLayoutIsOneBootableExt4PartitionFrom1MiB) {
  DiskInfo disk{"vda", "/dev/vda", 64ull << 20, 512};
  auto plan = PlanDisk(R"({"format":1,"source":"directory","bootloader":"bios","disks":[]})", disk,
                       2ull << 20);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_FALSE(plan->replicated);
  ASSERT_EQ(plan->partitions.size(), 1u);
  const auto& root = plan->partitions[0];
  EXPECT_EQ(root.fstype, "ext4");
  EXPECT_EQ(root.label, "root");
  EXPECT_EQ(root.mountpoint, "/");
  EXPECT_EQ(root.device, "/dev/vda1");
  EXPECT_TRUE(std::regex_match(plan->label_id, std::regex("0x[0-9a-f]{8}")));
  EXPECT_EQ(root.partuuid, plan->label_id.substr(2) + "-01");
  EXPECT_TRUE(std::regex_match(root.uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab]"
                                                     "[0-9a-f]{3}-[0-9a-f]{12}")))
      << root.uuid;
  EXPECT_EQ(SfdiskScript(*plan), "label: dos\nlabel-id: " + plan->label_id +
                                     "\nunit: sectors\n\n/dev/vda1 : start=2048, type=83, "
                                     "bootable\n");
  EXPECT_EQ(RootArgument(*plan, true), "PARTUUID=" + root.partuuid);
  EXPECT_EQ(RootArgument(*plan, false), "UUID=" + root.uuid);
  EXPECT_EQ(BootPathPrefix(*plan), "/boot");
  // Fresh ids every time: two nodes never share one.
  EXPECT_NE(PlanDisk(R"({"disks":[]})", disk, 0)->label_id, plan->label_id);
}

TEST(DiskLayoutTest, DefaultLayoutRefusesADiskTooSmallForTheImage) {
  DiskInfo disk{"vda", "/dev/vda", 64ull << 20, 512};
  auto plan = PlanDisk(R"({"disks":[]})", disk, 200ull << 20);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(), HasSubstr("disk /dev/vda has 64.0 MiB; the image needs"));
}

TEST(DiskLayoutTest, DefaultUefiLayoutIsAnEspThenTheRootOnGpt) {
  DiskInfo disk{"vda", "/dev/vda", 1ull << 30, 512};
  // The golden client's boot loader does not matter, the node's firmware does.
  for (const char* golden : {"bios", "uefi"}) {
    std::string layout = std::string(R"({"bootloader":")") + golden + R"(","disks":[]})";
    auto bios = PlanDisk(layout, disk, 0, Firmware::kBios);
    ASSERT_TRUE(bios.ok()) << bios.status().message();
    EXPECT_EQ(bios->label, "dos");
    EXPECT_FALSE(bios->esp_index.has_value());
    auto plan = PlanDisk(layout, disk, 2ull << 20, Firmware::kUefi);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    EXPECT_EQ(plan->label, "gpt");
    ASSERT_EQ(plan->partitions.size(), 2u);
    ASSERT_EQ(plan->esp_index, 0u);
    EXPECT_EQ(plan->root_index, 1u);
    EXPECT_EQ(plan->boot_index, 1u);
  }
  auto plan = PlanDisk(R"({"disks":[]})", disk, 0, Firmware::kUefi);
  const auto& esp = plan->partitions[0];
  const auto& root = plan->partitions[1];
  EXPECT_EQ(esp.fstype, "vfat");
  EXPECT_EQ(esp.mountpoint, "/boot/efi");
  EXPECT_EQ(esp.device, "/dev/vda1");
  EXPECT_TRUE(std::regex_match(esp.uuid, std::regex("[0-9A-F]{4}-[0-9A-F]{4}"))) << esp.uuid;
  EXPECT_EQ(root.fstype, "ext4");
  EXPECT_EQ(root.mountpoint, "/");
  EXPECT_EQ(root.device, "/dev/vda2");
  EXPECT_EQ(SfdiskScript(*plan),
            "label: gpt\nlabel-id: " + plan->label_id +
                "\nunit: sectors\n\n"
                "/dev/vda1 : start=2048, size=131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, "
                "uuid=" +
                esp.partuuid +
                ", name=\"EFI system partition\"\n"
                "/dev/vda2 : start=133120, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=" +
                root.partuuid + ", name=\"root\"\n");
  EXPECT_EQ(RootArgument(*plan, true), "PARTUUID=" + root.partuuid);
  EXPECT_EQ(BootPathPrefix(*plan), "/boot");
  auto order = MountOrder(*plan);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0]->mountpoint, "/");
  EXPECT_EQ(order[1]->mountpoint, "/boot/efi");

  // 4 KiB sectors: the same sizes in bytes.
  DiskInfo big_sectors{"vda", "/dev/vda", 1ull << 30, 4096};
  auto plan4k = PlanDisk(R"({"disks":[]})", big_sectors, 0, Firmware::kUefi);
  ASSERT_TRUE(plan4k.ok()) << plan4k.status().message();
  EXPECT_EQ(plan4k->partitions[0].start, 256u);
  EXPECT_EQ(plan4k->partitions[0].size, 16384u);
  EXPECT_EQ(plan4k->partitions[1].start, 16640u);
}

TEST(DiskLayoutTest, DefaultUefiLayoutRefusesADiskTooSmallForEspAndImage) {
  // The BIOS layout fits 100 MiB; the ESP's 64 MiB leave too little.
  DiskInfo disk{"vda", "/dev/vda", 100ull << 20, 512};
  ASSERT_TRUE(PlanDisk(R"({"disks":[]})", disk, 40ull << 20, Firmware::kBios).ok());
  auto plan = PlanDisk(R"({"disks":[]})", disk, 40ull << 20, Firmware::kUefi);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(),
              HasSubstr("disk /dev/vda has 100.0 MiB; the image needs about 125.0 MiB with the "
                        "default UEFI layout: give the node a bigger disk"));
}

// A golden client with /boot, a root and swap in an extended partition,
// as prepareclient records it (sfdisk --json and lsblk --json).
std::string DosLayout() {
  return R"({"format":1,"source":"root","bootloader":"bios",
    "block_devices":[{"name":"sda","path":"/dev/sda","type":"disk","fstype":null,"children":[
      {"name":"sda1","path":"/dev/sda1","type":"part","fstype":"ext2","uuid":"b00t-old",
       "label":"boot","partuuid":"cafe0001-01","mountpoint":"/boot"},
      {"name":"sda2","path":"/dev/sda2","type":"part","fstype":"ext4","uuid":"r00t-old",
       "label":null,"partuuid":"cafe0001-02","mountpoint":"/"},
      {"name":"sda3","path":"/dev/sda3","type":"part","fstype":null,"mountpoint":null},
      {"name":"sda5","path":"/dev/sda5","type":"part","fstype":"swap","uuid":"5wap-old",
       "mountpoints":["[SWAP]"]}]},
      {"name":"sr0","path":"/dev/sr0","type":"rom"}],
    "disks":[{"path":"/dev/sda","size":10737418240,"partitiontable":{
      "label":"dos","id":"0xcafe0001","device":"/dev/sda","unit":"sectors","sectorsize":512,
      "partitions":[
        {"node":"/dev/sda1","start":2048,"size":1048576,"type":"83","bootable":true},
        {"node":"/dev/sda2","start":1050624,"size":16777216,"type":"83"},
        {"node":"/dev/sda3","start":17829888,"size":2097152,"type":"5"},
        {"node":"/dev/sda5","start":17831936,"size":2095104,"type":"82"}]}},
      {"path":"/dev/zram0","size":1000,"partitiontable":null}]})";
}

TEST(DiskLayoutTest, ReplicatesTheGoldenDosLayoutGrowingTheLastPartition) {
  DiskInfo disk{"vda", "/dev/vda", 20ull << 30, 512};
  auto plan = PlanDisk(DosLayout(), disk, 0);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(plan->replicated);
  ASSERT_EQ(plan->partitions.size(), 4u);
  const auto& boot = plan->partitions[0];
  EXPECT_EQ(boot.mountpoint, "/boot");
  EXPECT_EQ(boot.fstype, "ext2");
  EXPECT_EQ(boot.label, "boot");
  EXPECT_EQ(boot.old_uuid, "b00t-old");
  EXPECT_NE(boot.uuid, "b00t-old");
  EXPECT_EQ(plan->partitions[plan->root_index].device, "/dev/vda2");
  EXPECT_EQ(plan->partitions[plan->boot_index].device, "/dev/vda1");
  EXPECT_EQ(plan->partitions[3].fstype, "swap");
  EXPECT_EQ(plan->partitions[3].mountpoint, "");
  EXPECT_EQ(BootPathPrefix(*plan), "");
  std::string id = plan->label_id;
  EXPECT_EQ(plan->partitions[3].partuuid, id.substr(2) + "-05");
  EXPECT_EQ(SfdiskScript(*plan), "label: dos\nlabel-id: " + id +
                                     "\nunit: sectors\n\n"
                                     "/dev/vda1 : start=2048, size=1048576, type=83, bootable\n"
                                     "/dev/vda2 : start=1050624, size=16777216, type=83\n"
                                     "/dev/vda3 : start=17829888, type=5\n"
                                     "/dev/vda5 : start=17831936, type=82\n");
  auto order = MountOrder(*plan);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0]->mountpoint, "/");
  EXPECT_EQ(order[1]->mountpoint, "/boot");
}

TEST(DiskLayoutTest, RefusesADiskSmallerThanTheLayout) {
  DiskInfo disk{"vda", "/dev/vda", 2ull << 30, 512};
  auto plan = PlanDisk(DosLayout(), disk, 0);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(),
              HasSubstr("disk /dev/vda has 2.0 GiB; the layout needs 9.5 GiB"));
}

TEST(DiskLayoutTest, RefusesUnsupportedFileSystemsAndSeveralDisks) {
  DiskInfo disk{"vda", "/dev/vda", 20ull << 30, 512};

  std::string xfs = DosLayout();
  xfs.replace(xfs.find("\"ext4\""), 6, "\"xfs\"");
  auto bad_fs = PlanDisk(xfs, disk, 0);
  EXPECT_EQ(bad_fs.status().code(), Code::kUnsupported);
  EXPECT_THAT(bad_fs.status().message(), HasSubstr("/dev/sda2 (mounted on /) holds xfs"));

  auto layout = nlohmann::json::parse(DosLayout());
  layout["disks"][1]["partitiontable"] = layout["disks"][0]["partitiontable"];
  auto two = PlanDisk(layout.dump(), disk, 0);
  EXPECT_THAT(two.status().message(), HasSubstr("2 disks with partition tables"));

  layout = nlohmann::json::parse(DosLayout());
  layout["disks"][0]["partitiontable"]["partitions"][1]["start"] = "1050624";
  EXPECT_THAT(PlanDisk(layout.dump(), disk, 0).status().message(),
              HasSubstr("disks[0].partitiontable.partitions[1].start: expected a number"));
  EXPECT_THAT(PlanDisk("{not json", disk, 0).status().message(), HasSubstr("not valid JSON"));
}

TEST(DiskLayoutTest, RefusesAnImageTheReplicatedFileSystemsCannotHold) {
  // The layout ends at 9.5 GiB; on 20 GiB /boot (512 MiB) and the root
  // (8 GiB) hold about 8.5 GiB: 7 GiB fit, 9 GiB do not.
  DiskInfo disk{"vda", "/dev/vda", 20ull << 30, 512};
  EXPECT_TRUE(PlanDisk(DosLayout(), disk, 7ull << 30).ok());
  auto plan = PlanDisk(DosLayout(), disk, 9ull << 30);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(),
              HasSubstr("disk /dev/vda has 20.0 GiB; the image needs about 9.9 GiB but the golden "
                        "client's layout leaves its file systems 8.5 GiB: give the node a bigger "
                        "disk"));
}

TEST(DiskLayoutTest, ReplicatesGptWithLegacyBootFlagOnTheRoot) {
  std::string layout = R"({"bootloader":"bios",
    "block_devices":[{"path":"/dev/vda","children":[
      {"path":"/dev/vda1","fstype":null},
      {"path":"/dev/vda2","fstype":"ext4","uuid":"old","mountpoint":"/"}]}],
    "disks":[{"path":"/dev/vda","partitiontable":{"label":"gpt","sectorsize":512,
      "partitions":[
        {"node":"/dev/vda1","start":2048,"size":2048,"type":"21686148-6449-6E6F-744E-656564454649",
         "uuid":"0B5E6C7A-0000-4000-8000-000000000001","name":"bios"},
        {"node":"/dev/vda2","start":4096,"size":100000,"type":"0FC63DAF-8483-4772-8E79-3D69D8477DE4",
         "uuid":"0B5E6C7A-0000-4000-8000-000000000002","name":"root fs","attrs":"RequiredPartition"}]}}]})";
  DiskInfo disk{"vdb", "/dev/vdb", 1ull << 30, 512};
  auto plan = PlanDisk(layout, disk, 0);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const auto& root = plan->partitions[1];
  EXPECT_EQ(root.gpt_attrs, "RequiredPartition LegacyBIOSBootable");
  EXPECT_EQ(plan->partitions[0].fstype, "");
  EXPECT_EQ(root.old_partuuid, "0B5E6C7A-0000-4000-8000-000000000002");
  EXPECT_NE(root.partuuid, root.old_partuuid);
  std::string script = SfdiskScript(*plan);
  EXPECT_THAT(script, HasSubstr("label: gpt\nlabel-id: " + plan->label_id + "\n"));
  EXPECT_THAT(script, HasSubstr("/dev/vdb2 : start=4096, type=0FC63DAF-8483-4772-8E79-"
                                "3D69D8477DE4, uuid=" +
                                root.partuuid +
                                ", name=\"root fs\", attrs=\"RequiredPartition "
                                "LegacyBIOSBootable\"\n"));
  EXPECT_THAT(script, HasSubstr("/dev/vdb1 : start=2048, size=2048,"));
  EXPECT_EQ(RootArgument(*plan, true), "PARTUUID=" + root.partuuid);
}

// A UEFI golden client: GPT with an ESP on /boot/efi and the root.
std::string UefiLayout() {
  return R"({"bootloader":"uefi",
    "block_devices":[{"path":"/dev/sda","children":[
      {"path":"/dev/sda1","fstype":"vfat","uuid":"1234-ABCD","mountpoint":"/boot/efi"},
      {"path":"/dev/sda2","fstype":"ext4","uuid":"old-root","mountpoint":"/"}]}],
    "disks":[{"path":"/dev/sda","partitiontable":{"label":"gpt","sectorsize":512,
      "partitions":[
        {"node":"/dev/sda1","start":2048,"size":1048576,"type":"c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
         "uuid":"0B5E6C7A-0000-4000-8000-000000000001","name":"EFI System Partition"},
        {"node":"/dev/sda2","start":1050624,"size":4194304,
         "type":"0FC63DAF-8483-4772-8E79-3D69D8477DE4"}]}}]})";
}

TEST(DiskLayoutTest, ReplicatesTheGoldenClientsEspOnUefiAndBiosNodes) {
  DiskInfo disk{"vda", "/dev/vda", 8ull << 30, 512};
  auto plan = PlanDisk(UefiLayout(), disk, 1ull << 30, Firmware::kUefi);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(plan->replicated);
  ASSERT_EQ(plan->esp_index, 0u);
  const auto& esp = plan->partitions[0];
  EXPECT_EQ(esp.fstype, "vfat");
  EXPECT_EQ(esp.mountpoint, "/boot/efi");
  EXPECT_EQ(esp.old_uuid, "1234-ABCD");
  EXPECT_TRUE(std::regex_match(esp.uuid, std::regex("[0-9A-F]{4}-[0-9A-F]{4}"))) << esp.uuid;
  EXPECT_TRUE(plan->partitions[1].grow);
  EXPECT_THAT(SfdiskScript(*plan), HasSubstr("/dev/vda1 : start=2048, size=1048576, "
                                             "type=c12a7328-f81f-11d2-ba4b-00a0c93ec93b, uuid=" +
                                             esp.partuuid + ", name=\"EFI System Partition\"\n"));

  // A BIOS node installs extlinux on the same layout: the ESP stays, the
  // root gets the legacy boot flag gptmbr.bin looks for.
  auto bios = PlanDisk(UefiLayout(), disk, 1ull << 30, Firmware::kBios);
  ASSERT_TRUE(bios.ok()) << bios.status().message();
  EXPECT_EQ(bios->esp_index, 0u);
  EXPECT_EQ(bios->partitions[1].gpt_attrs, "LegacyBIOSBootable");

  // An ESP the golden client did not mount is mounted on /boot/efi to
  // install GRUB (and its file system is made even if lsblk saw none).
  auto layout = nlohmann::json::parse(UefiLayout());
  layout["block_devices"][0]["children"][0]["mountpoint"] = nullptr;
  layout["block_devices"][0]["children"][0]["fstype"] = nullptr;
  auto unmounted = PlanDisk(layout.dump(), disk, 0, Firmware::kUefi);
  ASSERT_TRUE(unmounted.ok()) << unmounted.status().message();
  EXPECT_EQ(unmounted->partitions[0].mountpoint, "/boot/efi");
  EXPECT_EQ(unmounted->partitions[0].fstype, "vfat");

  // dos labels have ESPs too (type ef).
  layout = nlohmann::json::parse(UefiLayout());
  layout["disks"][0]["partitiontable"]["label"] = "dos";
  layout["disks"][0]["partitiontable"]["partitions"][0]["type"] = "ef";
  layout["disks"][0]["partitiontable"]["partitions"][1]["type"] = "83";
  auto dos = PlanDisk(layout.dump(), disk, 0, Firmware::kUefi);
  ASSERT_TRUE(dos.ok()) << dos.status().message();
  EXPECT_EQ(dos->esp_index, 0u);
}

TEST(DiskLayoutTest, UefiNodeRefusesAGoldenLayoutWithoutAnEsp) {
  DiskInfo disk{"vda", "/dev/vda", 20ull << 30, 512};
  auto plan = PlanDisk(DosLayout(), disk, 0, Firmware::kUefi);
  EXPECT_EQ(plan.status().code(), Code::kUnsupported);
  EXPECT_THAT(plan.status().message(),
              HasSubstr("this node booted with UEFI but the golden client's disk /dev/sda has no "
                        "EFI system partition"));
  EXPECT_TRUE(PlanDisk(DosLayout(), disk, 0, Firmware::kBios).ok());

  auto layout = nlohmann::json::parse(UefiLayout());
  layout["block_devices"][0]["children"][0]["fstype"] = "ext2";
  EXPECT_THAT(PlanDisk(layout.dump(), disk, 0, Firmware::kUefi).status().message(),
              HasSubstr("EFI system partition /dev/sda1 holds ext2, not vfat"));
}

}  // namespace
}  // namespace gc
