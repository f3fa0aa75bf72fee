/* Runs every vector file under a directory through libatsreuse's C API, as a C caller would.
 * Usage: atsreuse_vectors <vectors dir>
 * Each *.json file is dispatched by its "format"; an unknown format is a failure, so a new
 * file cannot be skipped silently. Positive cases must give their outputs exactly; negative
 * cases must fail with the status their "error" maps to. The schema is vectors/README.md. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "vectors.h"

int failures;
static int cases_run;
const char *current_file;
const char *current_case;

/* ---- JSON helpers ---------------------------------------------------------------------- */

/* A byte string from a hex field; *len gets its length. The caller frees it. Missing or bad
 * hex is a failure and gives NULL. */
uint8_t *
hex_field(const cJSON *obj, const char *key, size_t *len)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsString(item)) {
    FAIL("field %s missing or not a string", key);
    return NULL;
  }
  const char *s = item->valuestring;
  size_t n = strlen(s);
  if (n % 2 != 0) {
    FAIL("field %s: odd hex length", key);
    return NULL;
  }
  uint8_t *out = malloc(n / 2 + 1); /* never malloc(0) */
  if (out == NULL) {
    abort();
  }
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) {
      FAIL("field %s: bad hex", key);
      free(out);
      return NULL;
    }
    out[i] = (uint8_t)v;
  }
  *len = n / 2;
  return out;
}

const char *
str_field(const cJSON *obj, const char *key)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsString(item)) {
    FAIL("field %s missing or not a string", key);
    return "";
  }
  return item->valuestring;
}

uint64_t
u64_field(const cJSON *obj, const char *key)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(item) || item->valuedouble < 0) {
    FAIL("field %s missing or not a non-negative number", key);
    return 0;
  }
  return (uint64_t)item->valuedouble;
}

int
has_field(const cJSON *obj, const char *key)
{
  return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

void
expect_bytes(const char *what, const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
  if (got_len != want_len || (want_len > 0 && memcmp(got, want, want_len) != 0)) {
    FAIL("%s differs (got %zu bytes, want %zu)", what, got_len, want_len);
  }
}

void
expect_status(const char *what, atsreuse_status got, atsreuse_status want)
{
  if (got != want) {
    FAIL("%s: got %u (%s), want %u (%s)", what, (unsigned)got, atsreuse_status_str(got), (unsigned)want,
         atsreuse_status_str(want));
  }
}

/* The status a Rust error name (vectors/README.md) maps to. 0 when unknown (a failure). */
atsreuse_status
status_of_error(const char *error)
{
  static const struct {
    const char *name;
    atsreuse_status status;
  } table[] = {
    {"KeyError::EmptyPsk", ATSREUSE_STATUS_PSK},
    {"KeyError::PskTooLong", ATSREUSE_STATUS_PSK},
    {"KeyError::BadClusterName", ATSREUSE_STATUS_BAD_CLUSTER_NAME},
    {"OpenError::Malformed", ATSREUSE_STATUS_MALFORMED},
    {"OpenError::UnknownVersion", ATSREUSE_STATUS_UNKNOWN_VERSION},
    {"OpenError::WrongKind", ATSREUSE_STATUS_WRONG_KIND},
    {"OpenError::BadTag", ATSREUSE_STATUS_OPEN_FAILED},
    {"OpenError::TooOld", ATSREUSE_STATUS_STALE},
    {"OpenError::FromFuture", ATSREUSE_STATUS_FROM_FUTURE},
    {"RecordError::BadId", ATSREUSE_STATUS_BAD_SESSION_ID},
    {"RecordError::BadDer", ATSREUSE_STATUS_BAD_DER},
    {"RecordError::Malformed", ATSREUSE_STATUS_MALFORMED},
    {"StekError::AllZero", ATSREUSE_STATUS_BAD_STEK},
    {"StekError::SameSecrets", ATSREUSE_STATUS_BAD_STEK},
    {"KeyringError::BadTimes", ATSREUSE_STATUS_KEYRING_BAD_TIMES},
    {"KeyringError::Full", ATSREUSE_STATUS_KEYRING_FULL},
    {"KeyringError::Duplicate", ATSREUSE_STATUS_KEYRING_DUPLICATE},
    {"KeyringError::Malformed", ATSREUSE_STATUS_MALFORMED},
    {"KeyringError::BufferTooSmall", ATSREUSE_STATUS_BUFFER_TOO_SMALL},
    {"StekError::BufferTooSmall", ATSREUSE_STATUS_BUFFER_TOO_SMALL},
    {"KeyringOpenError::OldEpoch", ATSREUSE_STATUS_KEYRING_OLD_EPOCH},
    {"LegacyError::Base64", ATSREUSE_STATUS_LEGACY_BASE64},
    {"LegacyError::BadPadding", ATSREUSE_STATUS_LEGACY_BAD_PADDING},
    {"LegacyError::ShortFrame", ATSREUSE_STATUS_MALFORMED},
    {"LegacyError::WrongVersion", ATSREUSE_STATUS_LEGACY_WRONG_VERSION},
    {"LegacyError::LengthMismatch", ATSREUSE_STATUS_LEGACY_LENGTH_MISMATCH},
    {"LegacyError::BadDer", ATSREUSE_STATUS_BAD_DER},
    {"LegacyError::BadStekLength", ATSREUSE_STATUS_LEGACY_BAD_STEK_LENGTH},
    {"LegacyError::SessionIdTooLong", ATSREUSE_STATUS_BAD_SESSION_ID},
    {"LegacyError::EmptySessionId", ATSREUSE_STATUS_BAD_SESSION_ID},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (strcmp(table[i].name, error) == 0) {
      return table[i].status;
    }
  }
  FAIL("unknown error name %s", error);
  return ATSREUSE_STATUS_OK;
}

atsreuse_status
expected_error(const cJSON *c)
{
  return status_of_error(str_field(c, "error"));
}

uint32_t
kind_of(const char *kind)
{
  if (strcmp(kind, "Session") == 0) {
    return ATSREUSE_KIND_SESSION;
  }
  if (strcmp(kind, "Keyring") == 0) {
    return ATSREUSE_KIND_KEYRING;
  }
  return 0; /* refused by the library as an invalid argument */
}

void
fill_freshness(const cJSON *c, atsreuse_freshness *f)
{
  f->now = u64_field(c, "now");
  f->max_age_secs = u64_field(c, "max_age_secs");
  f->max_future_secs = u64_field(c, "max_future_secs");
}

int
read_common(const cJSON *c, struct common *in, int want_node)
{
  memset(in, 0, sizeof *in);
  in->psk = hex_field(c, "psk", &in->psk_len);
  in->cluster = str_field(c, "cluster");
  if (want_node) {
    size_t n = 0;
    uint8_t *id = hex_field(c, "node_id", &n);
    if (id == NULL || n != 16) {
      FAIL("node_id is not 16 bytes");
      free(id);
      return 0;
    }
    memcpy(in->node_id, id, 16);
    free(id);
  }
  return in->psk != NULL;
}

/* ---- keys.json ------------------------------------------------------------------------- */

static void
keys_case(const cJSON *c)
{
  struct common in;
  atsreuse_key_schedule ks;
  if (!read_common(c, &in, 1)) {
    free(in.psk);
    return;
  }
  expect_status("key schedule", atsreuse_keys_derive(in.psk, in.psk_len, in.cluster, in.node_id, &ks),
                ATSREUSE_STATUS_OK);
  if (ks.psk_len != u64_field(c, "psk_len")) {
    FAIL("psk_len %zu", ks.psk_len);
  }
  const char *fields[] = {"sessions_key", "keyrings_key", "sender_sessions_key", "sender_keyrings_key"};
  const uint8_t *got[] = {ks.sessions_key, ks.keyrings_key, ks.sender_sessions_key, ks.sender_keyrings_key};
  for (int i = 0; i < 4; i++) {
    size_t n = 0;
    uint8_t *want = hex_field(c, fields[i], &n);
    if (want != NULL) {
      expect_bytes(fields[i], got[i], 32, want, n);
    }
    free(want);
  }
  const char *pw = str_field(c, "redis_password");
  if (strcmp(ks.redis_password, pw) != 0) {
    FAIL("redis_password from the key schedule differs");
  }
  char pw2[65];
  expect_status("redis password", atsreuse_redis_password(in.psk, in.psk_len, in.cluster, pw2, sizeof pw2),
                ATSREUSE_STATUS_OK);
  if (strcmp(pw2, pw) != 0) {
    FAIL("atsreuse_redis_password differs");
  }
  memset(&ks, 0, sizeof ks);
  free(in.psk);
}

static void
keys_negative(const cJSON *c)
{
  struct common in;
  atsreuse_key_schedule ks;
  char pw[65];
  if (!read_common(c, &in, 0)) {
    free(in.psk);
    return;
  }
  atsreuse_status want = expected_error(c);
  expect_status("key schedule", atsreuse_keys_derive(in.psk, in.psk_len, in.cluster, in.node_id, &ks), want);
  expect_status("redis password", atsreuse_redis_password(in.psk, in.psk_len, in.cluster, pw, sizeof pw), want);
  free(in.psk);
}

/* ---- envelope.json --------------------------------------------------------------------- */

static void
envelope_case(const cJSON *c)
{
  struct common in;
  size_t plain_len = 0, want_len = 0, nonce_len = 0, aad_len = 0, got_len = 0;
  uint8_t *plain = NULL, *want = NULL, *nonce = NULL, *aad = NULL, *buf = NULL;
  atsreuse_header h;
  atsreuse_freshness f;

  if (!read_common(c, &in, 1)) {
    goto out;
  }
  uint32_t kind = kind_of(str_field(c, "kind"));
  uint64_t sequence = u64_field(c, "sequence"), issued_at = u64_field(c, "issued_at");
  plain = hex_field(c, "plaintext", &plain_len);
  want = hex_field(c, "envelope", &want_len);
  nonce = hex_field(c, "nonce", &nonce_len);
  aad = hex_field(c, "aad", &aad_len);
  if (plain == NULL || want == NULL || nonce == NULL || aad == NULL) {
    goto out;
  }
  buf = malloc(want_len + plain_len + 64);
  expect_status("seal",
                atsreuse_envelope_seal(in.psk, in.psk_len, in.cluster, kind, in.node_id, sequence, issued_at, plain,
                                       plain_len, buf, want_len + plain_len + 64, &got_len),
                ATSREUSE_STATUS_OK);
  expect_bytes("sealed envelope", buf, got_len, want, want_len);

  fill_freshness(c, &f);
  expect_status("open",
                atsreuse_envelope_open(in.psk, in.psk_len, in.cluster, kind, want, want_len, &f, buf,
                                       want_len + plain_len + 64, &got_len, &h),
                ATSREUSE_STATUS_OK);
  expect_bytes("opened plaintext", buf, got_len, plain, plain_len);
  if (h.sequence != sequence || h.issued_at != issued_at || h.kind != kind || memcmp(h.sender, in.node_id, 16)) {
    FAIL("opened header differs");
  }

  /* The nonce is 4 zero bytes and the big-endian sequence; the AAD is the 34-byte clear
   * header, the cluster name's length and the cluster name. */
  uint8_t n12[12] = {0};
  for (int i = 0; i < 8; i++) {
    n12[4 + i] = (uint8_t)(sequence >> (56 - 8 * i));
  }
  expect_bytes("nonce", n12, 12, nonce, nonce_len);
  size_t cl = strlen(in.cluster);
  if (want_len < 34 || aad_len != 34 + 1 + cl || memcmp(aad, want, 34) != 0 || aad[34] != cl ||
      memcmp(aad + 35, in.cluster, cl) != 0) {
    FAIL("aad is not header, length and cluster name");
  }
out:
  free(in.psk);
  free(plain);
  free(want);
  free(nonce);
  free(aad);
  free(buf);
}

static void
envelope_negative(const cJSON *c)
{
  struct common in;
  size_t env_len = 0, got_len = 0;
  atsreuse_header h;
  atsreuse_freshness f;
  if (!read_common(c, &in, 0)) {
    free(in.psk);
    return;
  }
  uint8_t *env = hex_field(c, "envelope", &env_len);
  if (env != NULL) {
    uint8_t *buf = malloc(env_len + 1);
    fill_freshness(c, &f);
    expect_status("open",
                  atsreuse_envelope_open(in.psk, in.psk_len, in.cluster, kind_of(str_field(c, "kind")), env, env_len,
                                         &f, buf, env_len + 1, &got_len, &h),
                  expected_error(c));
    free(buf);
  }
  free(env);
  free(in.psk);
}

/* ---- session.json ---------------------------------------------------------------------- */

static void
session_case(const cJSON *c)
{
  struct common in;
  size_t id_len = 0, der_len = 0, rec_len = 0, env_len = 0, got_len = 0;
  uint8_t *id = NULL, *der = NULL, *rec = NULL, *env = NULL, *buf = NULL;
  atsreuse_session_info info;
  atsreuse_header h;
  atsreuse_freshness f;

  if (!read_common(c, &in, 1)) {
    goto out;
  }
  uint64_t sequence = u64_field(c, "sequence"), issued_at = u64_field(c, "issued_at");
  uint64_t expires_at = u64_field(c, "expires_at");
  id = hex_field(c, "id", &id_len);
  der = hex_field(c, "der", &der_len);
  rec = hex_field(c, "record", &rec_len);
  env = hex_field(c, "envelope", &env_len);
  if (id == NULL || der == NULL || rec == NULL || env == NULL) {
    goto out;
  }
  size_t cap = env_len + 64;
  buf = malloc(cap);

  expect_status("encode", atsreuse_session_record_encode(id, id_len, der, der_len, expires_at, buf, cap, &got_len),
                ATSREUSE_STATUS_OK);
  expect_bytes("encoded record", buf, got_len, rec, rec_len);
  expect_status("decode", atsreuse_session_record_decode(rec, rec_len, buf, cap, &info), ATSREUSE_STATUS_OK);
  expect_bytes("decoded DER", buf, info.der_len, der, der_len);
  expect_bytes("decoded id", info.id, info.id_len, id, id_len);
  if (info.expires_at != expires_at) {
    FAIL("decoded expires_at differs");
  }

  expect_status("seal",
                atsreuse_session_seal(in.psk, in.psk_len, in.cluster, in.node_id, sequence, issued_at, id, id_len, der,
                                      der_len, expires_at, buf, cap, &got_len),
                ATSREUSE_STATUS_OK);
  expect_bytes("sealed record", buf, got_len, env, env_len);
  fill_freshness(c, &f);
  expect_status("open", atsreuse_session_open(in.psk, in.psk_len, in.cluster, env, env_len, &f, buf, cap, &info, &h),
                ATSREUSE_STATUS_OK);
  expect_bytes("opened DER", buf, info.der_len, der, der_len);
  expect_bytes("opened id", info.id, info.id_len, id, id_len);
  if (info.expires_at != expires_at || h.sequence != sequence || h.issued_at != issued_at ||
      memcmp(h.sender, in.node_id, 16) != 0) {
    FAIL("opened fields differ");
  }
out:
  free(in.psk);
  free(id);
  free(der);
  free(rec);
  free(env);
  free(buf);
}

static void
session_negative(const cJSON *c)
{
  const char *op = str_field(c, "op");
  atsreuse_status want = expected_error(c);
  atsreuse_session_info info;
  atsreuse_header h;
  size_t got_len = 0;

  if (strcmp(op, "open") == 0) {
    struct common in;
    atsreuse_freshness f;
    size_t env_len = 0;
    if (read_common(c, &in, 0)) {
      uint8_t *env = hex_field(c, "envelope", &env_len);
      uint8_t *buf = malloc(env_len + 1);
      fill_freshness(c, &f);
      if (env != NULL) {
        expect_status("open",
                      atsreuse_session_open(in.psk, in.psk_len, in.cluster, env, env_len, &f, buf, env_len + 1, &info,
                                            &h),
                      want);
      }
      free(env);
      free(buf);
    }
    free(in.psk);
  } else if (strcmp(op, "decode") == 0) {
    size_t rec_len = 0;
    uint8_t *rec = hex_field(c, "record", &rec_len);
    uint8_t *buf = malloc(rec_len + 1);
    if (rec != NULL) {
      expect_status("decode", atsreuse_session_record_decode(rec, rec_len, buf, rec_len + 1, &info), want);
    }
    free(rec);
    free(buf);
  } else if (strcmp(op, "encode") == 0) {
    size_t id_len = 0, der_len = 0;
    uint8_t *id = hex_field(c, "id", &id_len), *der = hex_field(c, "der", &der_len);
    size_t cap = id_len + der_len + 64;
    uint8_t *buf = malloc(cap);
    if (id != NULL && der != NULL) {
      expect_status("encode",
                    atsreuse_session_record_encode(id, id_len, der, der_len, u64_field(c, "expires_at"), buf, cap,
                                                   &got_len),
                    want);
    }
    free(id);
    free(der);
    free(buf);
  } else {
    FAIL("unknown op %s", op);
  }
}

/* ---- legacy.json ----------------------------------------------------------------------- */

static void
legacy_case(const cJSON *c)
{
  const char *op = str_field(c, "op");
  size_t pass_len = 0, a_len = 0, b_len = 0, got_len = 0;
  uint8_t *pass = NULL, *a = NULL, *b = NULL;
  uint8_t buf[16384], buf2[16384];

  if (strcmp(op, "derive") == 0) {
    pass = hex_field(c, "passphrase", &pass_len);
    a = hex_field(c, "key", &a_len);
    b = hex_field(c, "iv", &b_len);
    if (pass && a && b) {
      expect_status("derive", atsreuse_legacy_derive(pass, pass_len, buf, buf2), ATSREUSE_STATUS_OK);
      expect_bytes("key", buf, 32, a, a_len);
      expect_bytes("iv", buf2, 16, b, b_len);
    }
  } else if (strcmp(op, "psk_file") == 0) {
    size_t psk_len = 0, auth_len = 0;
    pass = hex_field(c, "psk", &psk_len);
    a = hex_field(c, "auth_password", &a_len);
    b = hex_field(c, "passphrase", &b_len);
    if (pass && a && b) {
      expect_status("psk file",
                    atsreuse_legacy_psk_file(pass, psk_len, buf, sizeof buf, &auth_len, buf2, sizeof buf2, &got_len),
                    ATSREUSE_STATUS_OK);
      expect_bytes("auth password", buf, auth_len, a, a_len);
      expect_bytes("passphrase", buf2, got_len, b, b_len);
    }
  } else if (strcmp(op, "stek") == 0) {
    pass = hex_field(c, "passphrase", &pass_len);
    a = hex_field(c, "stek", &a_len);
    const char *payload = str_field(c, "payload");
    if (pass && a && a_len == 48) {
      /* The positive case "tampered ... decodes to a wrong key" has a payload that is not
       * the encoding of its STEK: only the decode direction applies to it. */
      expect_status("stek decode", atsreuse_legacy_stek_decode(pass, pass_len, (const uint8_t *)payload,
                                                               strlen(payload), buf),
                    ATSREUSE_STATUS_OK);
      expect_bytes("decoded stek", buf, 48, a, a_len);
      if (strstr(str_field(c, "name"), "tampered") == NULL) {
        expect_status("stek encode", atsreuse_legacy_stek_encode(pass, pass_len, a, buf2, sizeof buf2),
                      ATSREUSE_STATUS_OK);
        expect_bytes("stek payload", buf2, 88, (const uint8_t *)payload, strlen(payload));
      }
    } else {
      FAIL("stek case without a 48-byte stek");
    }
  } else if (strcmp(op, "session") == 0) {
    pass = hex_field(c, "passphrase", &pass_len);
    a = hex_field(c, "der", &a_len);
    b = hex_field(c, "frame", &b_len);
    const char *payload = str_field(c, "payload");
    if (pass && a && b) {
      expect_status("frame", atsreuse_legacy_frame_encode(a, a_len, buf, sizeof buf, &got_len), ATSREUSE_STATUS_OK);
      expect_bytes("frame", buf, got_len, b, b_len);
      expect_status("session encode", atsreuse_legacy_session_encode(pass, pass_len, a, a_len, buf, sizeof buf, &got_len),
                    ATSREUSE_STATUS_OK);
      expect_bytes("session payload", buf, got_len, (const uint8_t *)payload, strlen(payload));
      expect_status("session decode",
                    atsreuse_legacy_session_decode(pass, pass_len, (const uint8_t *)payload, strlen(payload), buf,
                                                   sizeof buf, &got_len),
                    ATSREUSE_STATUS_OK);
      expect_bytes("decoded DER", buf, got_len, a, a_len);
    }
  } else if (strcmp(op, "session_id") == 0) {
    a = hex_field(c, "id", &a_len);
    const char *suffix = str_field(c, "suffix");
    if (a) {
      expect_status("id encode", atsreuse_legacy_session_id_encode(a, a_len, buf, sizeof buf, &got_len),
                    ATSREUSE_STATUS_OK);
      expect_bytes("suffix", buf, got_len, (const uint8_t *)suffix, strlen(suffix));
      expect_status("id decode", atsreuse_legacy_session_id_decode((const uint8_t *)suffix, strlen(suffix), buf, &got_len),
                    ATSREUSE_STATUS_OK);
      expect_bytes("decoded id", buf, got_len, a, a_len);
    }
  } else if (strcmp(op, "base64_decode") == 0) {
    const char *text = str_field(c, "text");
    a = hex_field(c, "bytes", &a_len);
    if (a) {
      expect_status("base64", atsreuse_legacy_base64_decode((const uint8_t *)text, strlen(text), buf, sizeof buf, &got_len),
                    ATSREUSE_STATUS_OK);
      expect_bytes("decoded bytes", buf, got_len, a, a_len);
    }
  } else {
    FAIL("unknown op %s", op);
  }
  free(pass);
  free(a);
  free(b);
}

static void
legacy_negative(const cJSON *c)
{
  const char *op = str_field(c, "op");
  atsreuse_status want = expected_error(c);
  size_t pass_len = 0, got_len = 0;
  uint8_t *pass = NULL;
  uint8_t buf[16384];

  if (strcmp(op, "stek") == 0 || strcmp(op, "session") == 0) {
    pass = hex_field(c, "passphrase", &pass_len);
    const char *payload = str_field(c, "payload");
    if (pass == NULL) {
      return;
    }
    if (op[1] == 't') {
      expect_status("stek decode",
                    atsreuse_legacy_stek_decode(pass, pass_len, (const uint8_t *)payload, strlen(payload), buf), want);
    } else {
      expect_status("session decode",
                    atsreuse_legacy_session_decode(pass, pass_len, (const uint8_t *)payload, strlen(payload), buf,
                                                   sizeof buf, &got_len),
                    want);
    }
  } else if (strcmp(op, "session_id") == 0) {
    const char *suffix = str_field(c, "suffix");
    expect_status("id decode", atsreuse_legacy_session_id_decode((const uint8_t *)suffix, strlen(suffix), buf, &got_len),
                  want);
  } else if (strcmp(op, "base64_decode") == 0) {
    const char *text = str_field(c, "text");
    expect_status("base64", atsreuse_legacy_base64_decode((const uint8_t *)text, strlen(text), buf, sizeof buf, &got_len),
                  want);
  } else {
    FAIL("unknown op %s", op);
  }
  free(pass);
}

/* ---- driver ---------------------------------------------------------------------------- */

struct format {
  const char *name;
  void (*positive)(const cJSON *);
  void (*negative)(const cJSON *);
};

static const struct format formats[] = {
  {"keys", keys_case, keys_negative},         {"envelope", envelope_case, envelope_negative},
  {"session", session_case, session_negative}, {"legacy", legacy_case, legacy_negative},
  {"stek", stek_case, stek_negative},         {"keyring", keyring_case, keyring_negative},
  {"ats_block", ats_block_case, ats_block_negative},
};

static char *
read_all(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  char *text = malloc(cap);
  size_t n;
  while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) {
      cap *= 2;
      text = realloc(text, cap);
    }
  }
  fclose(f);
  text[len] = '\0';
  return text;
}

static void
run_array(const cJSON *root, const char *key, void (*fn)(const cJSON *), int *count)
{
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
  const cJSON *c;
  if (arr == NULL) {
    return;
  }
  cJSON_ArrayForEach(c, arr)
  {
    current_case = str_field(c, "name");
    fn(c);
    (*count)++;
    cases_run++;
  }
  current_case = NULL;
}

static void
run_file(const char *dir, const char *file)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  current_file = file;
  current_case = NULL;
  char *text = read_all(path);
  cJSON *root = text ? cJSON_Parse(text) : NULL;
  if (root == NULL) {
    FAIL("cannot read or parse %s", path);
    free(text);
    return;
  }
  const char *format = str_field(root, "format");
  const struct format *fmt = NULL;
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    if (strcmp(formats[i].name, format) == 0) {
      fmt = &formats[i];
    }
  }
  if (fmt == NULL) {
    FAIL("no runner for format %s", format);
  } else if (u64_field(root, "schema") != 1) {
    FAIL("unknown schema version");
  } else {
    int pos = 0, neg = 0;
    run_array(root, "cases", fmt->positive, &pos);
    run_array(root, "negative", fmt->negative, &neg);
    if (pos == 0) {
      FAIL("no positive case");
    }
    printf("%-14s %3d cases, %3d negative\n", file, pos, neg);
  }
  cJSON_Delete(root);
  free(text);
}

static int
by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: %s <vectors dir>\n", argv[0]);
    return 2;
  }
  DIR *d = opendir(argv[1]);
  if (d == NULL) {
    fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  char *names[256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 256) {
    size_t len = strlen(e->d_name);
    if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
      names[n++] = strdup(e->d_name);
    }
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], by_name);
  if (n == 0) {
    fprintf(stderr, "no vector file in %s\n", argv[1]);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    run_file(argv[1], names[i]);
    free(names[i]);
  }
  printf("vectors: %d files, %d cases, %d failures (libatsreuse %s)\n", n, cases_run, failures, atsreuse_version());
  return failures == 0 ? 0 : 1;
}
