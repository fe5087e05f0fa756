#include "common/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cctype>
#include <climits>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "common/hash.h"
#include "common/log.h"

namespace gc {

namespace {

constexpr int kMaxValidityDays = 36500;
// ub-common-name (RFC 5280): OpenSSL refuses a longer CN anyway, with a
// less helpful message.
constexpr size_t kMaxCommonName = 64;
// Agents' and servers' clocks disagree; a certificate made on a server a
// few minutes ahead must not be "not yet valid" to a client that checks.
constexpr long kBackdateSeconds = 3600;

template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* object) const {
    Free(object);
  }
};
void FreeOpenSslBuffer(unsigned char* buffer) { OPENSSL_free(buffer); }

using BioPtr = std::unique_ptr<BIO, FreeWith<BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, FreeWith<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, FreeWith<X509_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, FreeWith<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, FreeWith<ASN1_INTEGER_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, FreeWith<ASN1_STRING_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, FreeWith<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, FreeWith<GENERAL_NAMES_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, FreeWith<X509_EXTENSION_free>>;
using DerPtr = std::unique_ptr<unsigned char, FreeWith<FreeOpenSslBuffer>>;

// OpenSSL's error queue (thread-local) as one readable line, emptied so
// the next error does not carry this one's.
std::string DrainOpenSslErrors() {
  std::string detail;
  while (unsigned long error = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(error, text, sizeof(text));
    if (!detail.empty()) detail += "; ";
    detail += text;
  }
  return detail.empty() ? "no detail from OpenSSL" : detail;
}

Status OpenSslError(std::string_view what, Code code = Code::kInternal) {
  return Status(code, std::string(what) + ": " + DrainOpenSslErrors());
}

// A read-only memory BIO over `data`, which must outlive it.
Result<BioPtr> ReadBio(std::string_view data) {
  if (data.size() > INT_MAX)
    return InvalidArgument("PEM text of " + std::to_string(data.size()) + " bytes is too large");
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return OpenSslError("cannot create an OpenSSL memory buffer");
  return bio;
}

// Refuses to decrypt: without it OpenSSL would prompt on the terminal of a
// server that starts unattended.
int NoPassphrase(char*, int, int, void*) { return -1; }

Result<X509Ptr> ParseCertificate(std::string_view pem, std::string_view what) {
  GC_ASSIGN_OR_RETURN(BioPtr bio, ReadBio(pem));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, &NoPassphrase, nullptr));
  if (!cert) {
    return OpenSslError(
        std::string(what) + " is not a PEM certificate (\"-----BEGIN CERTIFICATE\")",
        Code::kInvalidArgument);
  }
  return cert;
}

Result<PkeyPtr> ParsePrivateKey(std::string_view pem, std::string_view what) {
  GC_ASSIGN_OR_RETURN(BioPtr bio, ReadBio(pem));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr));
  if (key) return key;
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    DrainOpenSslErrors();
    return InvalidArgument(std::string(what) +
                           " is encrypted: goldcast starts unattended and cannot ask for a "
                           "passphrase; decrypt it with 'openssl pkey -in KEY -out KEY.plain' "
                           "and keep that file 0600");
  }
  return OpenSslError(std::string(what) + " is not a PEM private key (\"-----BEGIN PRIVATE KEY\")",
                      Code::kInvalidArgument);
}

Result<std::string> ReadAll(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size < 0 || (size > 0 && data == nullptr)) return OpenSslError("cannot read PEM output");
  return std::string(data, static_cast<size_t>(size));
}

Result<std::string> CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError("cannot write the certificate as PEM");
  }
  return ReadAll(bio.get());
}

// PKCS#8 ("BEGIN PRIVATE KEY"), which OpenSSL and GnuTLS (libmicrohttpd)
// both read whatever the key type.
Result<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("cannot write the private key as PEM");
  }
  return ReadAll(bio.get());
}

Result<std::string> PinOfKey(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key, &der);
  if (length <= 0) return OpenSslError("cannot encode the public key");
  DerPtr owned(der);
  std::string digest;
  if (!HexDecode(Sha256Hex(std::string_view(reinterpret_cast<const char*>(der),
                                            static_cast<size_t>(length))),
                 &digest)) {
    return Internal("SHA-256 of the public key is not hex");
  }
  std::string base64(4 * ((digest.size() + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()),
                                reinterpret_cast<const unsigned char*>(digest.data()),
                                static_cast<int>(digest.size()));
  base64.resize(static_cast<size_t>(written));
  return "sha256//" + base64;
}

// The 4 or 16 bytes of an IPv4 or IPv6 literal; nothing else (OpenSSL's own
// a2i_IPADDRESS takes "10.0.0.1junk").
std::optional<std::string> IpBytes(const std::string& text) {
  unsigned char bytes[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    return std::string(reinterpret_cast<char*>(bytes), sizeof(struct in_addr));
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    return std::string(reinterpret_cast<char*>(bytes), sizeof(struct in6_addr));
  }
  return std::nullopt;
}

// Adds a GEN_IPADD or GEN_DNS entry holding `value` to `names`.
Status AddGeneralName(GENERAL_NAMES* names, int type, std::string_view value) {
  Asn1StringPtr text(type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new());
  GeneralNamePtr name(GENERAL_NAME_new());
  if (!text || !name ||
      ASN1_STRING_set(text.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return OpenSslError("cannot build a subjectAltName entry");
  }
  GENERAL_NAME_set0_value(name.get(), type, text.release());
  if (sk_GENERAL_NAME_push(names, name.get()) <= 0) {
    return OpenSslError("cannot build the subjectAltName list");
  }
  name.release();
  return Status::Ok();
}

// Built from the parsed values, never from a "IP:...,DNS:..." config
// string, so a name holding a comma cannot add entries of its own.
Status AddSubjectAltNames(X509* cert, std::string_view common_name,
                          const std::vector<std::string>& ip_addresses) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return OpenSslError("cannot build the subjectAltName list");
  std::set<std::string> seen;
  for (const std::string& address : ip_addresses) {
    std::optional<std::string> bytes = IpBytes(address);
    if (!bytes) return InvalidArgument("TLS certificate: '" + address + "' is not an address");
    if (seen.insert(*bytes).second)
      GC_RETURN_IF_ERROR(AddGeneralName(names.get(), GEN_IPADD, *bytes));
  }
  std::optional<std::string> cn_bytes = IpBytes(std::string(common_name));
  if (cn_bytes) {
    if (seen.insert(*cn_bytes).second) {
      GC_RETURN_IF_ERROR(AddGeneralName(names.get(), GEN_IPADD, *cn_bytes));
    }
  } else {
    GC_RETURN_IF_ERROR(AddGeneralName(names.get(), GEN_DNS, common_name));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("cannot add the subjectAltName extension");
  }
  return Status::Ok();
}

// Fixed extensions from OpenSSL's config syntax (constant strings only).
Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX context{};
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
    return OpenSslError(std::string("cannot add the certificate extension ") + OBJ_nid2sn(nid));
  }
  return Status::Ok();
}

Status SetSerialAndValidity(X509* cert, int valid_days) {
  // 128 random bits: unique without a counter to keep, as CAs must do too.
  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
    return OpenSslError("cannot draw a random certificate serial number");
  }
  if (BN_is_zero(serial.get()) && BN_one(serial.get()) != 1) {
    return OpenSslError("cannot set the certificate serial number");
  }
  Asn1IntegerPtr serial_asn1(BN_to_ASN1_INTEGER(serial.get(), nullptr));
  if (!serial_asn1 || X509_set_serialNumber(cert, serial_asn1.get()) != 1) {
    return OpenSslError("cannot set the certificate serial number");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert), valid_days, 0, nullptr) == nullptr) {
    return OpenSslError("cannot set the certificate validity");
  }
  return Status::Ok();
}

Result<X509Ptr> MakeCertificate(EVP_PKEY* key, std::string_view common_name,
                                const std::vector<std::string>& ip_addresses, int valid_days) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("cannot create a certificate");
  }
  GC_RETURN_IF_ERROR(SetSerialAndValidity(cert.get(), valid_days));
  X509_NAME* subject = X509_get_subject_name(cert.get());  // owned by cert
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("cannot set the certificate's name and key");
  }
  GC_RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), common_name, ip_addresses));
  GC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  GC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature"));
  GC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  GC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("cannot sign the certificate");
  }
  return cert;
}

Result<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslError("cannot generate an EC P-256 key");
  return key;
}

// Checked before anything is written, so bad arguments leave no key behind.
Status CheckNames(std::string_view common_name, const std::vector<std::string>& ip_addresses) {
  for (const std::string& address : ip_addresses) {
    if (!IpBytes(address)) {
      return InvalidArgument("TLS certificate: '" + address +
                             "' is not an IPv4 or IPv6 address (give the addresses agents "
                             "connect to, e.g. 10.0.0.1)");
    }
  }
  if (common_name.empty() || common_name.size() > kMaxCommonName) {
    return InvalidArgument("TLS certificate name '" + std::string(common_name.substr(0, 80)) +
                           "' must be 1 to 64 characters (the server's host name or address)");
  }
  for (char c : common_name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '-' || c == '_' || c == ':';
    if (!allowed) {
      return InvalidArgument("TLS certificate name '" + std::string(common_name) +
                             "' is not a host name or address (letters, digits, '.', '-', '_', "
                             "':' only)");
    }
  }
  return Status::Ok();
}

// Parses both PEMs and checks that the key is the certificate's; `remedy`
// ends every message with what the admin should do.
Result<TlsIdentity> CheckPair(TlsIdentity identity, const std::string& cert_path,
                              const std::string& key_path, std::string_view remedy) {
  Result<X509Ptr> cert = ParseCertificate(identity.cert_pem, cert_path);
  if (!cert.ok()) return cert.status().WithContext(std::string(remedy));
  Result<PkeyPtr> key = ParsePrivateKey(identity.key_pem, key_path);
  if (!key.ok()) return key.status().WithContext(std::string(remedy));
  if (EVP_PKEY_eq(X509_get0_pubkey(cert->get()), key->get()) != 1) {
    DrainOpenSslErrors();
    return InvalidArgument(key_path + " is not the private key of the certificate " + cert_path +
                           " (was one of them replaced?). " + std::string(remedy));
  }
  return identity;
}

// A key others may read is a server anyone on the host can impersonate.
void WarnIfReadableByOthers(const std::string& key_path) {
  struct stat st;
  if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    GC_LOG(Warning) << key_path << " is readable by users other than its owner (mode " << std::oct
                    << (st.st_mode & 0777) << std::dec << "): run 'chmod 600 " << key_path << "'";
  }
}

Result<TlsIdentity> LoadPair(Env* env, const std::string& cert_path, const std::string& key_path,
                             std::string_view remedy) {
  TlsIdentity identity;
  GC_ASSIGN_OR_RETURN(identity.cert_pem, env->ReadFile(cert_path));
  GC_ASSIGN_OR_RETURN(identity.key_pem, env->ReadFile(key_path));
  WarnIfReadableByOthers(key_path);
  return CheckPair(std::move(identity), cert_path, key_path, remedy);
}

// Creates `path` holding `data`, complete or not at all: written and
// fsynced in an unnamed file of `mode` (so the key is never readable by
// others, not even for a moment), then linked under its name, then the
// directory synced. Whatever kills the process before, nothing is left.
Status WriteNewFile(Env* env, const std::string& dir, const std::string& path,
                    std::string_view data, mode_t mode) {
  GC_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewAnonymousFile(dir, mode));
  GC_RETURN_IF_ERROR(file->Append(data));
  GC_RETURN_IF_ERROR(file->Sync());
  Status linked = file->LinkAs(path);
  if (linked.code() == Code::kAlreadyExists) {
    return linked.WithContext("another process created " + path +
                              " at the same time; run the command again");
  }
  GC_RETURN_IF_ERROR(linked);
  return env->SyncDir(dir);
}

}  // namespace

Result<TlsIdentity> MakeSelfSignedIdentity(std::string_view common_name,
                                           const std::vector<std::string>& ip_addresses,
                                           int valid_days) {
  GC_RETURN_IF_ERROR(CheckNames(common_name, ip_addresses));
  if (valid_days < 1 || valid_days > kMaxValidityDays) {
    return InvalidArgument("TLS certificate validity of " + std::to_string(valid_days) +
                           " days is outside 1 to " + std::to_string(kMaxValidityDays));
  }
  ERR_clear_error();
  GC_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  GC_ASSIGN_OR_RETURN(X509Ptr cert,
                      MakeCertificate(key.get(), common_name, ip_addresses, valid_days));
  TlsIdentity identity;
  GC_ASSIGN_OR_RETURN(identity.cert_pem, CertificatePem(cert.get()));
  GC_ASSIGN_OR_RETURN(identity.key_pem, PrivateKeyPem(key.get()));
  return identity;
}

Result<std::string> PublishPin(const std::string& dir, const TlsIdentity& identity, Env* env) {
  GC_ASSIGN_OR_RETURN(std::string pin, PublicKeyPin(identity.cert_pem));
  GC_RETURN_IF_ERROR(env->CreateDirs(dir));
  GC_RETURN_IF_ERROR(env->WriteFileAtomic(JoinPath(dir, "pin"), pin + "\n"));
  return pin;
}

bool IsPinList(std::string_view pins) {
  constexpr std::string_view kPrefix = "sha256//";
  constexpr size_t kBase64Sha256 = 44;
  for (;;) {
    std::string_view pin = pins.substr(0, pins.find(';'));
    if (pin.substr(0, kPrefix.size()) != kPrefix) return false;
    std::string_view digest = pin.substr(kPrefix.size());
    if (digest.size() != kBase64Sha256 || digest.back() != '=') return false;
    for (char c : digest.substr(0, kBase64Sha256 - 1)) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
    }
    if (pin.size() == pins.size()) return true;
    pins.remove_prefix(pin.size() + 1);
  }
}

Result<std::string> PublicKeyPin(std::string_view cert_pem) {
  ERR_clear_error();
  GC_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem, "the TLS certificate"));
  EVP_PKEY* key = X509_get0_pubkey(cert.get());  // owned by cert
  if (key == nullptr) {
    return OpenSslError("the TLS certificate's public key cannot be read", Code::kInvalidArgument);
  }
  return PinOfKey(key);
}

Result<TlsIdentity> LoadTlsIdentity(const std::string& cert_path, const std::string& key_path,
                                    Env* env) {
  ERR_clear_error();
  return LoadPair(env, cert_path, key_path,
                  "Give the PEM certificate and its unencrypted PEM private key.");
}

Result<TlsIdentity> LoadOrCreateTlsIdentity(const std::string& dir, std::string_view common_name,
                                            const std::vector<std::string>& ip_addresses,
                                            Env* env) {
  ERR_clear_error();
  const std::string cert_path = JoinPath(dir, "tls.crt");
  const std::string key_path = JoinPath(dir, "tls.key");
  const bool has_cert = env->Exists(cert_path);
  const bool has_key = env->Exists(key_path);
  if (has_cert && has_key) {
    return LoadPair(env, cert_path, key_path,
                    "Remove both " + cert_path + " and " + key_path +
                        " to have goldcast make a new pair, then give the nodes its new pin.");
  }
  GC_RETURN_IF_ERROR(CheckNames(common_name, ip_addresses));
  GC_RETURN_IF_ERROR(env->CreateDirs(dir));
  PkeyPtr key;
  TlsIdentity identity;
  if (has_key) {
    // Killed between the two files: the key was complete before it had its
    // name, so it only lacks its certificate.
    GC_ASSIGN_OR_RETURN(identity.key_pem, env->ReadFile(key_path));
    GC_ASSIGN_OR_RETURN(key, ParsePrivateKey(identity.key_pem, key_path));
    GC_LOG(Info) << "TLS: " << key_path << " has no certificate yet; making one for it";
  } else {
    if (has_cert) {
      GC_LOG(Warning) << "TLS: " << cert_path << " has no key (" << key_path
                      << " is missing); making a new pair: nodes pinned to the old key will "
                         "refuse this server until given the new pin";
      GC_RETURN_IF_ERROR(env->RemoveFile(cert_path));
    }
    GC_ASSIGN_OR_RETURN(key, NewKey());
    GC_ASSIGN_OR_RETURN(identity.key_pem, PrivateKeyPem(key.get()));
    GC_RETURN_IF_ERROR(WriteNewFile(env, dir, key_path, identity.key_pem, 0600));
  }
  GC_ASSIGN_OR_RETURN(
      X509Ptr cert, MakeCertificate(key.get(), common_name, ip_addresses, kSelfSignedValidityDays));
  GC_ASSIGN_OR_RETURN(identity.cert_pem, CertificatePem(cert.get()));
  GC_RETURN_IF_ERROR(WriteNewFile(env, dir, cert_path, identity.cert_pem, 0644));
  return identity;
}

}  // namespace gc
