// TLS identities (self-signed certificate, key, pin; loading, creating and
// finishing a half-created pair) and HTTPS between HttpServer and a pinned
// HttpClient on 127.0.0.1: the right pin, a wrong one, plain HTTP on either
// side, and the server's admission, limits, files and streams over TLS.
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

TEST(TlsIdentityTest, PublishPinWritesThePinBesideTheKey) {
  testing::TempDir temp;
  const std::string dir = temp.Sub("tls");
  Result<TlsIdentity> identity = LoadOrCreateTlsIdentity(dir, "gold", {"10.0.0.1"});
  ASSERT_TRUE(identity.ok()) << identity.status().message();
  Result<std::string> pin = PublishPin(dir, *identity);
  ASSERT_TRUE(pin.ok()) << pin.status().message();
  EXPECT_EQ(*pin, PinOrDie(identity->cert_pem));
  EXPECT_TRUE(IsPinList(*pin));
  EXPECT_EQ(testing::ReadTestFile(dir + "/pin"), *pin + "\n");
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

// A TCP listener on 127.0.0.1 that counts the connections it accepts and
// relays each in turn to `backend_port`, or with port 0 closes each at
// once, as a server past its connection limit does.
class CountingRelay {
 public:
  explicit CountingRelay(uint16_t backend_port)
      : backend_port_(backend_port), stop_(::eventfd(0, EFD_CLOEXEC)) {
    listen_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_in addr = Loopback(0);
    socklen_t length = sizeof(addr);
    if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_.get(), 16) != 0 ||
        ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      ADD_FAILURE() << "relay cannot listen";
      std::abort();
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~CountingRelay() {
    uint64_t one = 1;
    EXPECT_EQ(::write(stop_.get(), &one, sizeof(one)), 8);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  static struct sockaddr_in Loopback(uint16_t port) {
    struct sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    return addr;
  }

  // False once the relay is stopped.
  bool WaitReadable(int fd) {
    struct pollfd fds[2] = {{fd, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0) {
    }
    return (fds[1].revents & POLLIN) == 0;
  }

  void Loop() {
    while (WaitReadable(listen_.get())) {
      UniqueFd client(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client.valid()) continue;
      ++accepted_;
      if (backend_port_ != 0) Relay(client.get());
    }
  }

  void Relay(int client) {
    UniqueFd backend(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_in addr = Loopback(backend_port_);
    if (::connect(backend.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
    for (;;) {
      struct pollfd fds[3] = {
          {client, POLLIN, 0}, {backend.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) continue;
      if (fds[2].revents != 0) return;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        char buffer[16384];
        ssize_t n = ::read(fds[i].fd, buffer, sizeof(buffer));
        if (n <= 0) return;  // either side done: close both
        if (::send(fds[1 - i].fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
      }
    }
  }

  uint16_t backend_port_;
  UniqueFd stop_;
  UniqueFd listen_;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

std::string HttpsUrl(uint16_t port, const std::string& path) {
  return "https://127.0.0.1:" + std::to_string(port) + path;
}

HttpCall Request(std::string method, std::string url, int retries = 3) {
  HttpCall call;
  call.method = std::move(method);
  call.url = std::move(url);
  call.retries = retries;
  return call;
}

HttpClientOptions PinnedTo(std::string pin) {
  HttpClientOptions options;
  options.pinned_public_key = std::move(pin);
  return options;
}

// An HTTPS server with `identity` whose handler counts its calls and
// answers /hello, /file (a Pattern file), /stream and /endless; /secret is refused
// before its body without "X-Key: open" and bodies are limited to 16 bytes.
class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTestFile(temp_.Sub("file"), Pattern(kFileSize));
    HttpServerOptions options;
    options.tls_cert_pem = identity_.cert_pem;
    options.tls_key_pem = identity_.key_pem;
    options.admit = [](const HttpRequest& head) {
      HttpAdmission admission;
      admission.max_body_bytes = 16;
      if (head.path == "/secret" && head.headers.count("x-key") == 0) {
        admission.refusal = HttpResponse::Text(401, "no key\n");
      }
      return admission;
    };
    server_ = StartOrDie(
        [this](const HttpRequest& request) {
          ++calls_;
          if (request.path == "/file") {
            UniqueFd fd(::open(temp_.Sub("file").c_str(), O_RDONLY | O_CLOEXEC));
            return HttpResponse::File(std::move(fd), kFileSize);
          }
          if (request.path == "/stream") return PatternStream(300'000, 10'000);
          if (request.path == "/endless") {
            return HttpResponse::Stream([](char* buffer, size_t max) -> Result<size_t> {
              std::fill(buffer, buffer + max, 'x');
              return max;
            });
          }
          return HttpResponse::Text(200, "hello over tls: " + request.body);
        },
        options);
  }

  std::string Url(const std::string& path) const { return HttpsUrl(server_->port(), path); }

  static constexpr size_t kFileSize = 3 << 20;
  testing::TempDir temp_;
  TlsIdentity identity_ = MakeOrDie();
  std::atomic<int> calls_{0};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TlsServerTest, PinnedClientGetsTheAnswer) {
  HttpClient client(PinnedTo(PinOrDie(identity_.cert_pem)));
  Result<HttpResult> hello = client.Call(Request("GET", Url("/hello")));
  ASSERT_TRUE(hello.ok()) << hello.status().message();
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "hello over tls: ");
  EXPECT_EQ(calls_.load(), 1);

  // Several pins: the server's old and new key during a change.
  HttpClient rotating(
      PinnedTo(PinOrDie(MakeOrDie().cert_pem) + ";" + PinOrDie(identity_.cert_pem)));
  Result<HttpResult> again = rotating.Call(Request("GET", Url("/hello")));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->status, 200);
}

TEST_F(TlsServerTest, AdmissionLimitsFilesAndStreamsWorkOverTls) {
  HttpClient client(PinnedTo(PinOrDie(identity_.cert_pem)));
  HttpCall post = Request("POST", Url("/echo"));
  post.body = "0123456789";
  HttpCall too_large = Request("POST", Url("/echo"));
  too_large.body = std::string(100, 'x');
  HttpCall refused = Request("POST", Url("/secret"));
  refused.body = "abc";
  HttpCall range = Request("GET", Url("/file"));
  range.headers.push_back("Range: bytes=1000000-1000099");
  Result<std::vector<HttpResult>> results =
      client.CallAll({post, too_large, refused, range, Request("GET", Url("/file")),
                      Request("GET", Url("/stream"))},
                     3);
  ASSERT_TRUE(results.ok()) << results.status().message();
  const std::vector<HttpResult>& r = *results;
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[0].body, "hello over tls: 0123456789");
  EXPECT_EQ(r[1].status, 413);
  EXPECT_EQ(r[2].status, 401);
  EXPECT_EQ(r[2].body, "no key\n");
  EXPECT_EQ(r[3].status, 206);
  EXPECT_EQ(r[3].body, Pattern(100, 1'000'000));
  EXPECT_EQ(r[4].status, 200);
  EXPECT_TRUE(r[4].body == Pattern(kFileSize)) << "file body differs";
  EXPECT_EQ(r[5].status, 200);
  EXPECT_TRUE(r[5].body == Pattern(300'000)) << "stream body differs";
  EXPECT_EQ(calls_.load(), 4);  // neither refusal reached the handler
}

// The server goes on writing to a connection the client closed: no SIGPIPE
// may end the process, and the next client is served.
TEST_F(TlsServerTest, ClientHangingUpMidBodyLeavesTheServerServing) {
  const std::string pin = PinOrDie(identity_.cert_pem);
  HttpClient client(PinnedTo(pin));
  HttpCall endless = Request("GET", Url("/endless"), /*retries=*/0);
  uint64_t received = 0;
  endless.sink = [&](std::string_view chunk) {
    received += chunk.size();
    return received < (1 << 20) ? Status::Ok() : IoError("disk full");
  };
  Result<HttpResult> cut = client.Call(endless);
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.status().message(), HasSubstr("disk full"));

  HttpClient next(PinnedTo(pin));
  Result<HttpResult> hello = next.Call(Request("GET", Url("/hello")));
  ASSERT_TRUE(hello.ok()) << hello.status().message();
  EXPECT_EQ(hello->status, 200);
}

TEST_F(TlsServerTest, WrongPinFailsAtOnceWithoutReachingTheHandler) {
  CountingRelay relay(server_->port());
  HttpClient client(PinnedTo(PinOrDie(MakeOrDie().cert_pem)));
  Result<HttpResult> result = client.Call(Request("GET", HttpsUrl(relay.port(), "/hello")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnauthorized);
  EXPECT_THAT(result.status().message(),
              HasSubstr("the server's public key does not match the pinned one"));
  EXPECT_EQ(relay.accepted(), 1);  // not retried
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(TlsServerTest, PlainHttpOnEitherSideFails) {
  HttpClient plain;
  Result<HttpResult> http = plain.Call(Request(
      "GET", "http://127.0.0.1:" + std::to_string(server_->port()) + "/hello", /*retries=*/0));
  EXPECT_FALSE(http.ok()) << http->status << " " << http->body;
  // Unpinned https:// checks the certificate against the system's CAs,
  // which never issued this one.
  Result<HttpResult> unpinned = plain.Call(Request("GET", Url("/hello"), /*retries=*/0));
  EXPECT_FALSE(unpinned.ok()) << unpinned->status << " " << unpinned->body;
  EXPECT_EQ(calls_.load(), 0);

  auto plain_server = StartOrDie([this](const HttpRequest&) {
    ++calls_;
    return HttpResponse::Text(200, "plain");
  });
  HttpClient pinned(PinnedTo(PinOrDie(identity_.cert_pem)));
  Result<HttpResult> refused = pinned.Call(Request("GET", http_testing::Url(*plain_server, "/")));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("not https://"));
  // Nor against the TLS port: the pin is no good there either.
  Result<HttpResult> no_tls = pinned.Call(Request(
      "GET", "HTTP://127.0.0.1:" + std::to_string(server_->port()) + "/hello", /*retries=*/0));
  ASSERT_FALSE(no_tls.ok());
  EXPECT_EQ(no_tls.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(calls_.load(), 0);
}

TEST(TlsClientTest, MalformedPinIsRefused) {
  for (const std::string& pin : {std::string("abc"), std::string("sha256//short="),
                                 std::string(kKnownPin) + ";", std::string("/etc/key.pem")}) {
    HttpClient client(PinnedTo(pin));
    Result<HttpResult> result = client.Call(Request("GET", "https://127.0.0.1:1/"));
    ASSERT_FALSE(result.ok()) << pin;
    EXPECT_EQ(result.status().code(), Code::kInvalidArgument) << result.status().message();
    EXPECT_THAT(result.status().message(), HasSubstr("is not a public key pin"));
  }
}

TEST(TlsClientTest, ConnectionClosedInTheHandshakeIsRetried) {
  CountingRelay closer(0);
  HttpClient client(PinnedTo(kKnownPin));
  Result<HttpResult> result = client.Call(Request("GET", HttpsUrl(closer.port(), "/"), 2));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kNetwork) << result.status().message();
  EXPECT_EQ(closer.accepted(), 3) << result.status().message();
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
