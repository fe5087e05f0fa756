// TLS identities (self-signed certificate, key, pin; loading, creating and
// finishing a half-created pair) and HttpServer's refusal of a half or
// broken one.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/http_client.h"
#include "common/http_server.h"
#include "common/tls.h"
#include "common/unique_fd.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/http_test_support.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using http_testing::Pattern;
using http_testing::PatternStream;
using http_testing::StartOrDie;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Made with the openssl command line, pin by
// openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
// openssl dgst -sha256 -binary | base64: an answer not computed by tls.cc.
constexpr char kKnownCert[] = R"(-----BEGIN CERTIFICATE-----
MIIBhjCCASugAwIBAgIUV9lxM1yII3ZBEBfjvwGmZujHum8wCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMa25vd24tdmVjdG9yMCAXDTI2MTIwNjEzMjM0MloYDzIxMjYx
MTEyMTMyMzQyWjAXMRUwEwYDVQQDDAxrbm93bi12ZWN0b3IwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAASv2u0pGVwLFOp8Mg4dw6ouo/0vqXhK1gqETx0AudmCzW4T
4Uh4dam03jrte4+DsUD98c/ggjTB3/+oysfW5xudo1MwUTAdBgNVHQ4EFgQUHPuQ
swb39YK0CvUxsuhP4hL2iVcwHwYDVR0jBBgwFoAUHPuQswb39YK0CvUxsuhP4hL2
iVcwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA7ips3EGUAfrd
+l38ovpSGUz07qqDK/OokhjE3W0MTQ0CIQC+kpwrEthgNyLROIp4k3hXRJHqzgT2
r6Dh2dr55ul9tA==
-----END CERTIFICATE-----
)";
constexpr char kKnownPin[] = "sha256//UUknmOVT8Xm/FjFiF58qXnxBktXDq1p26e3pF7LprP4=";

struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr Parse(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

TlsIdentity MakeOrDie(const std::string& name = "127.0.0.1",
                      const std::vector<std::string>& addresses = {"127.0.0.1"}) {
  Result<TlsIdentity> identity = MakeSelfSignedIdentity(name, addresses, 30);
  EXPECT_TRUE(identity.ok()) << identity.status().message();
  if (!identity.ok()) std::abort();
  return std::move(identity).value();
}

std::string PinOrDie(const std::string& cert_pem) {
  Result<std::string> pin = PublicKeyPin(cert_pem);
  EXPECT_TRUE(pin.ok()) << pin.status().message();
  return pin.ok() ? *pin : "";
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(TlsIdentityTest, CertificateHasTheAskedNamesAndLimits) {
  TlsIdentity identity = MakeOrDie("gold.cluster", {"10.0.0.1", "fd00::1", "10.0.0.1"});
  X509Ptr cert = Parse(identity.cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_THAT(identity.key_pem, StartsWith("-----BEGIN PRIVATE KEY-----"));
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);  // self-signed
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "fd00::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.2", 0), 0);
  EXPECT_EQ(X509_check_host(cert.get(), "gold.cluster", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_get_extension_flags(cert.get()) & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(cert.get())), 256);
  EXPECT_TRUE(EVP_PKEY_is_a(X509_get0_pubkey(cert.get()), "EC"));
  // 30 days from now, give or take the test's run time.
  time_t in_29_days = std::time(nullptr) + 29 * 86400;
  time_t in_31_days = std::time(nullptr) + 31 * 86400;
  EXPECT_EQ(X509_cmp_time(X509_get0_notAfter(cert.get()), &in_29_days), 1);
  EXPECT_EQ(X509_cmp_time(X509_get0_notAfter(cert.get()), &in_31_days), -1);
  time_t now = std::time(nullptr);
  EXPECT_EQ(X509_cmp_time(X509_get0_notBefore(cert.get()), &now), -1);

  // An address as the name is an IP entry, not a DNS one.
  X509Ptr by_address = Parse(MakeOrDie("10.0.0.7", {}).cert_pem);
  EXPECT_EQ(X509_check_ip_asc(by_address.get(), "10.0.0.7", 0), 1);

  // Fresh key and serial every time.
  X509Ptr other = Parse(MakeOrDie("gold.cluster", {"10.0.0.1"}).cert_pem);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(cert.get()), X509_get0_serialNumber(other.get())), 0);
  EXPECT_NE(PinOrDie(identity.cert_pem), PinOrDie(MakeOrDie().cert_pem));
}

TEST(TlsIdentityTest, BadArgumentsAreRefused) {
  for (const auto& [name, address, days] : std::vector<std::tuple<std::string, std::string, int>>{
           {"gold", "10.0.0.1junk", 30},
           {"gold", "", 30},
           {"", "10.0.0.1", 30},
           {"gold,DNS:evil", "10.0.0.1", 30},
           {"gold", "10.0.0.1", 0},
       }) {
    Result<TlsIdentity> identity = MakeSelfSignedIdentity(name, {address}, days);
    ASSERT_FALSE(identity.ok()) << name << " " << address << " " << days;
    EXPECT_EQ(identity.status().code(), Code::kInvalidArgument) << identity.status().message();
  }
}

TEST(TlsIdentityTest, PinIsCurlsFormatAndRefusesGarbage) {
  Result<std::string> pin = PublicKeyPin(kKnownCert);
  ASSERT_TRUE(pin.ok()) << pin.status().message();
  EXPECT_EQ(*pin, kKnownPin);

  for (const std::string& garbage :
       {std::string(), std::string("hello"), MakeOrDie().key_pem,
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    Result<std::string> bad = PublicKeyPin(garbage);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(bad.status().message(), HasSubstr("is not a PEM certificate"));
  }
}

TEST(TlsIdentityTest, CreatedOnceThenLoadedWithTheSamePin) {
  testing::TempDir temp;
  const std::string dir = temp.Sub("state/tls");  // created on the way
  Result<TlsIdentity> created = LoadOrCreateTlsIdentity(dir, "gold", {"10.0.0.1"});
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(ModeOf(dir + "/tls.key"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/tls.crt") & 0600, 0600u);
  EXPECT_EQ(testing::ReadTestFile(dir + "/tls.key"), created->key_pem);
  EXPECT_EQ(testing::ReadTestFile(dir + "/tls.crt"), created->cert_pem);
  Result<std::vector<std::string>> names = Env::Default()->ListDir(dir);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"tls.crt", "tls.key"}));  // no temp files

  Result<TlsIdentity> loaded = LoadOrCreateTlsIdentity(dir, "other-name", {"10.9.9.9"});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->cert_pem, created->cert_pem);
  EXPECT_EQ(loaded->key_pem, created->key_pem);
  EXPECT_EQ(PinOrDie(loaded->cert_pem), PinOrDie(created->cert_pem));

  Result<TlsIdentity> given = LoadTlsIdentity(dir + "/tls.crt", dir + "/tls.key");
  ASSERT_TRUE(given.ok()) << given.status().message();
  EXPECT_EQ(given->cert_pem, created->cert_pem);
}

TEST(TlsIdentityTest, KeyOfAnotherCertificateIsRefused) {
  testing::TempDir temp;
  testing::WriteTestFile(temp.Sub("tls.crt"), MakeOrDie().cert_pem);
  testing::WriteTestFile(temp.Sub("tls.key"), MakeOrDie().key_pem);
  ASSERT_EQ(::chmod(temp.Sub("tls.key").c_str(), 0600), 0);
  Result<TlsIdentity> loaded = LoadOrCreateTlsIdentity(temp.path(), "gold", {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr(temp.Sub("tls.key") + " is not the private key of the certificate " +
                        temp.Sub("tls.crt")));
  EXPECT_THAT(loaded.status().message(), HasSubstr("Remove both"));

  Result<TlsIdentity> given = LoadTlsIdentity(temp.Sub("tls.crt"), temp.Sub("tls.key"));
  ASSERT_FALSE(given.ok());
  EXPECT_THAT(given.status().message(), HasSubstr("is not the private key of the certificate"));
}

TEST(TlsIdentityTest, GarbageOrEncryptedFilesAreRefusedByName) {
  testing::TempDir temp;
  TlsIdentity identity = MakeOrDie();
  const std::string cert = temp.Sub("tls.crt");
  const std::string key = temp.Sub("tls.key");

  testing::WriteTestFile(cert, "not a certificate\n");
  testing::WriteTestFile(key, identity.key_pem);
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  Result<TlsIdentity> loaded = LoadOrCreateTlsIdentity(temp.path(), "gold", {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(), HasSubstr(cert + " is not a PEM certificate"));

  testing::WriteTestFile(cert, identity.cert_pem);
  testing::WriteTestFile(key, identity.cert_pem);  // a certificate where the key belongs
  loaded = LoadTlsIdentity(cert, key);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr(key + " is not a PEM private key"));

  // The same key, encrypted: refused without a passphrase prompt.
  std::unique_ptr<BIO, decltype(&BIO_free)> in(
      BIO_new_mem_buf(identity.key_pem.data(), static_cast<int>(identity.key_pem.size())),
      &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ASSERT_TRUE(pkey);
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), &BIO_free);
  char passphrase[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(out.get(), pkey.get(), EVP_aes_256_cbc(), passphrase, 6,
                                          nullptr, nullptr),
            1);
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  testing::WriteTestFile(key, std::string(data, static_cast<size_t>(size)));
  loaded = LoadTlsIdentity(cert, key);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr(key + " is encrypted"));
}

TEST(TlsIdentityTest, HalfCreatedPairIsFinishedWithTheSameKey) {
  testing::TempDir temp;
  testing::FaultEnv env;
  // The key (about 240 bytes) fits, the certificate does not: what a crash
  // between the two files leaves.
  env.FailWritesAfter(400);
  Result<TlsIdentity> failed = LoadOrCreateTlsIdentity(temp.path(), "gold", {"10.0.0.1"}, &env);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kNoSpace) << failed.status().message();
  Result<std::vector<std::string>> names = env.ListDir(temp.path());
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(*names, std::vector<std::string>{"tls.key"});
  const std::string key_pem = testing::ReadTestFile(temp.Sub("tls.key"));

  env.StopFailing();
  Result<TlsIdentity> finished = LoadOrCreateTlsIdentity(temp.path(), "gold", {"10.0.0.1"}, &env);
  ASSERT_TRUE(finished.ok()) << finished.status().message();
  EXPECT_EQ(finished->key_pem, key_pem);
  EXPECT_EQ(ModeOf(temp.Sub("tls.key")), 0600u);
  Result<TlsIdentity> loaded = LoadTlsIdentity(temp.Sub("tls.crt"), temp.Sub("tls.key"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->cert_pem, finished->cert_pem);
}

TEST(TlsIdentityTest, CertificateWithoutKeyIsReplacedByANewPair) {
  testing::TempDir temp;
  Result<TlsIdentity> first = LoadOrCreateTlsIdentity(temp.path(), "gold", {});
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(::unlink(temp.Sub("tls.key").c_str()), 0);
  Result<TlsIdentity> second = LoadOrCreateTlsIdentity(temp.path(), "gold", {});
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_NE(PinOrDie(second->cert_pem), PinOrDie(first->cert_pem));
  Result<TlsIdentity> loaded = LoadTlsIdentity(temp.Sub("tls.crt"), temp.Sub("tls.key"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->key_pem, second->key_pem);
}

TEST(TlsServerStartTest, HalfOrBrokenIdentityIsAClearError) {
  TlsIdentity identity = MakeOrDie();
  HttpServerOptions options;
  options.address = "127.0.0.1";
  options.tls_key_pem = identity.key_pem;
  Result<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(options, [](const HttpRequest&) { return HttpResponse::Text(200, ""); });
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("got only the key"));

  options.tls_cert_pem = "garbage";
  server =
      HttpServer::Start(options, [](const HttpRequest&) { return HttpResponse::Text(200, ""); });
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("HTTPS server on 127.0.0.1:0 failed to start"));
}

}  // namespace
}  // namespace gc
