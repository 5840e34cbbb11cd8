// Digests on OpenSSL's libcrypto, as lowercase hex:
//   sha256(x), md5(x)       of a string's UTF-8 bytes or of bytes
//   hmac_sha256(x, 'name')  keyed by the job's secret `name` (the top-level
//                           `secrets:` map): the key is read on the workers
//                           and never appears in the job, its validation or
//                           its description.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/expr/functions.h"
#include "common/status.h"
#include "common/text.h"

namespace weir::expr::fn {
namespace {

// Appends the digest d[0, len) as lowercase hex, or a null when `ok` is false.
void AppendHex(bool ok, const unsigned char* d, unsigned len, std::string* hex, Column* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (!ok) return out->AppendNull();
  hex->clear();
  for (unsigned k = 0; k < len; ++k) {
    hex->push_back(kHex[d[k] >> 4]);
    hex->push_back(kHex[d[k] & 0xF]);
  }
  out->AppendString(*hex);
}

bool BindDigest(BindCall& c) {
  if (!c.Expect(0, IsText, "a string or bytes argument")) return false;
  c.SetType(TypeId::kString);
  return true;
}

// One digest context per call site, reused for every row.
class DigestKernel final : public Kernel {
 public:
  explicit DigestKernel(const char* algorithm)
      : md_(EVP_MD_fetch(nullptr, algorithm, nullptr)), ctx_(EVP_MD_CTX_new()) {
    WEIR_ASSERT(md_ != nullptr && ctx_ != nullptr,
                std::string("OpenSSL has no digest ") + algorithm);
  }
  ~DigestKernel() override {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  DigestKernel(const DigestKernel&) = delete;
  DigestKernel& operator=(const DigestKernel&) = delete;

  void Run(const Column* const* a, size_t n, Column* out) override {
    out->Clear();
    out->Reserve(n);
    unsigned char d[EVP_MAX_MD_SIZE];
    for (size_t i = 0; i < n; ++i) {
      unsigned len = 0;
      const std::string_view x = a[0]->IsNull(i) ? std::string_view() : a[0]->GetString(i);
      const bool ok = !a[0]->IsNull(i) && EVP_DigestInit_ex(ctx_, md_, nullptr) == 1 &&
                      EVP_DigestUpdate(ctx_, x.data(), x.size()) == 1 &&
                      EVP_DigestFinal_ex(ctx_, d, &len) == 1;
      AppendHex(ok, d, len, &hex_, out);
    }
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
  std::string hex_;
};

bool BindHmac(BindCall& c) {
  if (!c.Expect(0, IsText, "a string or bytes argument")) return false;
  const Literal* name = c.literal(1);
  if (c.type(1) != TypeId::kString || !name) {
    c.Error(1,
            "the key is named by a string literal, an entry of the job's top-level "
            "`secrets:` (such as hmac_sha256(email, 'pii'))");
    return false;
  }
  const auto& keys = c.options().keys;
  if (!keys || !keys->names.contains(name->s)) {
    std::vector<std::string> names;
    if (keys) names.assign(keys->names.begin(), keys->names.end());
    c.Error(1,
            "no secret '" + name->s + "' in the job's top-level `secrets:`" +
                (names.empty() ? std::string(" (the job has none)") : DidYouMean(name->s, names)));
    return false;
  }
  c.call()->keys = keys;
  c.SetType(TypeId::kString);
  return true;
}

std::unique_ptr<Kernel> MakeHmacKernel(const Expr& call, std::string key) {
  return MakeStringRows(call, [key = std::move(key), hex = std::string()](
                                  const Column* const* a, size_t i, Column* out) mutable {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    const std::string_view x = a[0]->GetString(i);
    const bool ok =
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(x.data()), x.size(), d, &len) != nullptr;
    AppendHex(ok, d, len, &hex, out);
  });
}

std::unique_ptr<Kernel> MakeHmac(const Expr& call) {
  const std::string& name = call.children[1]->literal.s;
  WEIR_ASSERT(call.keys != nullptr, "hmac_sha256 was not bound against the job's secrets");
  auto it = call.keys->values.find(name);
  WEIR_ASSERT(it != call.keys->values.end(),
              "the secret '" + name + "' of hmac_sha256 was not read before the job ran");
  return MakeHmacKernel(call, it->second);
}

}  // namespace

const std::vector<Function>& HashFunctions() {
  static const std::vector<Function> functions = {
      {"sha256", 1, 1, true, BindDigest,
       [](const Expr&) -> std::unique_ptr<Kernel> {
         return std::make_unique<DigestKernel>("SHA256");
       }},
      {"md5", 1, 1, true, BindDigest,
       [](const Expr&) -> std::unique_ptr<Kernel> {
         return std::make_unique<DigestKernel>("MD5");
       }},
      // Strict in x only: a null key name is a bind error.
      {"hmac_sha256", 2, 2, true, BindHmac, MakeHmac},
  };
  return functions;
}

}  // namespace weir::expr::fn
