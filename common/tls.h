// TLS identity: the key and certificate `goldcast serve` answers HTTPS with,
// and the public-key pin its agents trust instead of a certificate
// authority. A cluster has no CA and no DNS names an agent could check, so
// trust is the server's key itself: the agent is given its pin once (at
// install) and refuses any other key, whatever the certificate says.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace gc {

struct TlsIdentity {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8 PEM, unencrypted: whoever reads it is the server
};

// The validity LoadOrCreateTlsIdentity gives a new certificate: the pin,
// not the dates, is what agents check, and a server should not stop
// answering its nodes one day because a certificate ran out.
constexpr int kSelfSignedValidityDays = 3650;

// A fresh EC P-256 key and an X.509 v3 certificate for it, signed by
// itself: CN `common_name`, subjectAltName an IP entry per address in
// `ip_addresses` (IPv4 or IPv6 literals) plus `common_name` (as DNS, or as
// IP if it is an address), not a CA, serverAuth only, valid from an hour
// ago (clock skew) for `valid_days`.
Result<TlsIdentity> MakeSelfSignedIdentity(std::string_view common_name,
                                           const std::vector<std::string>& ip_addresses,
                                           int valid_days);

// "sha256//" + base64(SHA-256(DER SubjectPublicKeyInfo)) of the first
// certificate in `cert_pem`: what libcurl's CURLOPT_PINNEDPUBLICKEY (and
// `curl --pinnedpubkey`) accepts. It names the key, so a certificate
// renewed for the same key keeps its pin. kInvalidArgument if the PEM
// holds no certificate.
Result<std::string> PublicKeyPin(std::string_view cert_pem);

// The pin of `identity` (PublicKeyPin), also written to DIR/pin for admins
// and scripts to read (the key beside it is root's; the pin is public).
Result<std::string> PublishPin(const std::string& dir, const TlsIdentity& identity,
                               Env* env = Env::Default());

// "sha256//" and the 44 base64 characters of a SHA-256, ';' between pins
// (several let a node accept a server's old and new key during a change).
// Anything else curl would take for the name of a key file.
bool IsPinList(std::string_view pins);

// An admin-provided certificate (or chain, leaf first) and its key, checked
// to parse and to belong together. Encrypted keys are refused (the server
// starts unattended).
Result<TlsIdentity> LoadTlsIdentity(const std::string& cert_path, const std::string& key_path,
                                    Env* env = Env::Default());

// DIR/tls.crt and DIR/tls.key, checked as LoadTlsIdentity does; if missing,
// a new self-signed pair (kSelfSignedValidityDays) written there: the key
// 0600 from its creation, each file complete and fsynced before it gets its
// name. The key is written first, so a crash between the two leaves the key
// alone and the next call finishes the pair with a certificate for it (the
// pin stays). A certificate without its key is replaced by a new pair.
Result<TlsIdentity> LoadOrCreateTlsIdentity(const std::string& dir, std::string_view common_name,
                                            const std::vector<std::string>& ip_addresses,
                                            Env* env = Env::Default());

}  // namespace gc
