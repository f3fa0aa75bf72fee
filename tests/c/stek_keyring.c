/* Runners for vectors/stek.json, vectors/keyring.json and vectors/ats_block.json (schema in
 * vectors/README.md). */
#include <stdlib.h>
#include <string.h>

#include "vectors.h"

/* The layouts by their field name in stek.json. */
static const struct {
  const char *field;
  uint32_t layout;
  size_t len;
} layouts[] = {
  {"ats", ATSREUSE_LAYOUT_ATS, 48},
  {"nginx48", ATSREUSE_LAYOUT_NGINX48, 48},
  {"nginx80", ATSREUSE_LAYOUT_NGINX80, 80},
  {"haproxy48", ATSREUSE_LAYOUT_HAPROXY48, 48},
  {"haproxy80", ATSREUSE_LAYOUT_HAPROXY80, 80},
};

/* The three parts of a STEK; 0 when a part is missing or has the wrong length. */
static int
stek_parts(const cJSON *c, uint8_t name[16], uint8_t hmac[32], uint8_t aes[32])
{
  size_t n1 = 0, n2 = 0, n3 = 0;
  uint8_t *a = hex_field(c, "stek_name", &n1), *b = hex_field(c, "hmac_key", &n2), *d = hex_field(c, "aes_key", &n3);
  int ok = a && b && d && n1 == 16 && n2 == 32 && n3 == 32;
  if (ok) {
    memcpy(name, a, 16);
    memcpy(hmac, b, 32);
    memcpy(aes, d, 32);
  } else {
    FAIL("STEK parts missing or of the wrong length");
  }
  free(a);
  free(b);
  free(d);
  return ok;
}

void
stek_case(const cJSON *c)
{
  uint8_t name[16], hmac[32], aes[32], out[128];
  size_t len = 0;
  if (!stek_parts(c, name, hmac, aes)) {
    return;
  }
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
    size_t want_len = 0;
    uint8_t *want = hex_field(c, layouts[i].field, &want_len);
    if (want == NULL) {
      continue;
    }
    expect_status(layouts[i].field, atsreuse_stek_export(name, hmac, aes, layouts[i].layout, out, sizeof out, &len),
                  ATSREUSE_STATUS_OK);
    expect_bytes(layouts[i].field, out, len, want, want_len);
    if (len != layouts[i].len) {
      FAIL("%s export is %zu bytes", layouts[i].field, len);
    }
    free(want);
  }
}

void
stek_negative(const cJSON *c)
{
  uint8_t name[16], hmac[32], aes[32], out[128];
  size_t len = 0;
  const char *op = str_field(c, "op");
  if (!stek_parts(c, name, hmac, aes)) {
    return;
  }
  atsreuse_status want = expected_error(c);
  if (strcmp(op, "from_parts") == 0) {
    /* Every layout refuses the bad key. */
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
      expect_status(layouts[i].field, atsreuse_stek_export(name, hmac, aes, layouts[i].layout, out, sizeof out, &len),
                    want);
    }
  } else if (strcmp(op, "export") == 0) {
    const char *field = str_field(c, "layout");
    uint64_t cap = u64_field(c, "buffer_len");
    uint32_t layout = 0;
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
      if (strcmp(layouts[i].field, field) == 0) {
        layout = layouts[i].layout;
      }
    }
    if (layout == 0 || cap > sizeof out) {
      FAIL("unknown layout %s or buffer_len %llu", field, (unsigned long long)cap);
      return;
    }
    expect_status("export", atsreuse_stek_export(name, hmac, aes, layout, out, (size_t)cap, &len), want);
  } else {
    FAIL("unknown op %s", op);
  }
}

/* Reads `entries` of an encode case; returns the count, -1 on a malformed case. */
static int
read_entries(const cJSON *c, atsreuse_keyring_entry *out, int cap)
{
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(c, "entries");
  const cJSON *e;
  int n = 0;
  if (!cJSON_IsArray(arr)) {
    FAIL("entries missing");
    return -1;
  }
  cJSON_ArrayForEach(e, arr)
  {
    if (n == cap) {
      FAIL("more than %d entries", cap);
      return -1;
    }
    memset(&out[n], 0, sizeof out[n]);
    out[n].epoch = u64_field(e, "epoch");
    out[n].introduce_at = u64_field(e, "introduce_at");
    out[n].activate_at = u64_field(e, "activate_at");
    out[n].expire_at = u64_field(e, "expire_at");
    if (!stek_parts(e, out[n].name, out[n].hmac_key, out[n].aes_key)) {
      return -1;
    }
    n++;
  }
  return n;
}

static void
keyring_encode_case(const cJSON *c)
{
  atsreuse_keyring_entry entries[8], reversed[8], decoded[8];
  uint8_t out[1024];
  size_t len = 0, want_len = 0, count = 0;
  int n = read_entries(c, entries, 8);
  uint8_t *want = hex_field(c, "encoded", &want_len);
  if (n < 0 || want == NULL) {
    free(want);
    return;
  }
  expect_status("build", atsreuse_keyring_build(entries, (size_t)n, out, sizeof out, &len), ATSREUSE_STATUS_OK);
  expect_bytes("encoded", out, len, want, want_len);
  /* Inserted in the opposite order: the same bytes. */
  for (int i = 0; i < n; i++) {
    reversed[i] = entries[n - 1 - i];
  }
  expect_status("build reversed", atsreuse_keyring_build(reversed, (size_t)n, out, sizeof out, &len),
                ATSREUSE_STATUS_OK);
  expect_bytes("encoded from reversed entries", out, len, want, want_len);
  /* Decoded: the entries back, in order. */
  expect_status("entries", atsreuse_keyring_entries(want, want_len, decoded, 8, &count), ATSREUSE_STATUS_OK);
  if (count != (size_t)n || (n > 0 && memcmp(decoded, entries, sizeof entries[0] * (size_t)n) != 0)) {
    FAIL("decoded entries differ (%zu of %d)", count, n);
  }
  free(want);
}

static void
keyring_seal_case(const cJSON *c)
{
  struct common in;
  size_t enc_len = 0, env_len = 0, len = 0;
  uint8_t out[2048];
  atsreuse_header h;
  uint8_t *enc = NULL, *env = NULL;
  if (!read_common(c, &in, 1)) {
    goto out;
  }
  enc = hex_field(c, "encoded", &enc_len);
  env = hex_field(c, "envelope", &env_len);
  if (enc == NULL || env == NULL) {
    goto out;
  }
  uint64_t sequence = u64_field(c, "sequence"), issued_at = u64_field(c, "issued_at");
  expect_status("seal",
                atsreuse_keyring_seal(in.psk, in.psk_len, in.cluster, in.node_id, sequence, issued_at, enc, enc_len,
                                      out, sizeof out, &len),
                ATSREUSE_STATUS_OK);
  expect_bytes("sealed keyring", out, len, env, env_len);
  expect_status("open",
                atsreuse_keyring_open(in.psk, in.psk_len, in.cluster, env, env_len, NULL, out, sizeof out, &len, &h),
                ATSREUSE_STATUS_OK);
  expect_bytes("opened keyring", out, len, enc, enc_len);
  if (h.sequence != sequence || h.issued_at != issued_at || h.kind != ATSREUSE_KIND_KEYRING ||
      memcmp(h.sender, in.node_id, 16) != 0) {
    FAIL("opened header differs");
  }
out:
  free(in.psk);
  free(enc);
  free(env);
}

static void
keyring_merge_case(const cJSON *c)
{
  size_t a_len = 0, b_len = 0, m_len = 0, len = 0;
  uint32_t changed = 0;
  uint8_t out[1024];
  uint8_t *a = hex_field(c, "a", &a_len), *b = hex_field(c, "b", &b_len), *m = hex_field(c, "merged", &m_len);
  uint64_t now = u64_field(c, "now");
  if (a && b && m) {
    expect_status("merge a b", atsreuse_keyring_merge(a, a_len, b, b_len, now, out, sizeof out, &len, &changed),
                  ATSREUSE_STATUS_OK);
    expect_bytes("merge of b into a", out, len, m, m_len);
    if (changed != (len != a_len || memcmp(out, a, len) != 0)) {
      FAIL("changed flag %u is wrong for a", changed);
    }
    expect_status("merge b a", atsreuse_keyring_merge(b, b_len, a, a_len, now, out, sizeof out, &len, &changed),
                  ATSREUSE_STATUS_OK);
    expect_bytes("merge of a into b", out, len, m, m_len);
  }
  free(a);
  free(b);
  free(m);
}

void
keyring_case(const cJSON *c)
{
  const char *op = str_field(c, "op");
  if (strcmp(op, "encode") == 0) {
    keyring_encode_case(c);
  } else if (strcmp(op, "seal") == 0) {
    keyring_seal_case(c);
  } else if (strcmp(op, "merge") == 0) {
    keyring_merge_case(c);
  } else {
    FAIL("unknown op %s", op);
  }
}

void
keyring_negative(const cJSON *c)
{
  const char *op = str_field(c, "op");
  atsreuse_status want = expected_error(c);
  uint8_t out[2048];
  size_t len = 0;
  atsreuse_keyring_entry entries[8];
  atsreuse_header h;

  if (strcmp(op, "decode") == 0) {
    size_t enc_len = 0;
    uint8_t *enc = hex_field(c, "encoded", &enc_len);
    if (enc != NULL) {
      expect_status("entries", atsreuse_keyring_entries(enc, enc_len, entries, 8, &len), want);
      expect_status("ats block", atsreuse_keyring_ats_block(enc, enc_len, 0, out, sizeof out, &len), want);
    }
    free(enc);
  } else if (strcmp(op, "open") == 0) {
    struct common in;
    size_t env_len = 0;
    if (read_common(c, &in, 0)) {
      uint8_t *env = hex_field(c, "envelope", &env_len);
      uint64_t held = u64_field(c, "held_epoch");
      if (env != NULL) {
        expect_status("open",
                      atsreuse_keyring_open(in.psk, in.psk_len, in.cluster, env, env_len, &held, out, sizeof out, &len,
                                            &h),
                      want);
      }
      free(env);
    }
    free(in.psk);
  } else {
    FAIL("unknown op %s", op);
  }
}

void
ats_block_case(const cJSON *c)
{
  size_t ring_len = 0, block_len = 0, name_len = 0, len = 0;
  uint8_t out[1024], name[16];
  uint64_t epoch = 0, t = u64_field(c, "t");
  uint8_t *ring = hex_field(c, "keyring", &ring_len);
  uint8_t *block = hex_field(c, "block", &block_len);
  uint8_t *want_name = hex_field(c, "encrypting_name", &name_len);
  if (ring && block && want_name) {
    expect_status("ats block", atsreuse_keyring_ats_block(ring, ring_len, t, out, sizeof out, &len), ATSREUSE_STATUS_OK);
    expect_bytes("block", out, len, block, block_len);
    atsreuse_status st = atsreuse_keyring_encrypting_at(ring, ring_len, t, &epoch, name);
    if (name_len == 0) {
      expect_status("encrypting key", st, ATSREUSE_STATUS_NOT_FOUND);
    } else {
      expect_status("encrypting key", st, ATSREUSE_STATUS_OK);
      expect_bytes("encrypting name", name, 16, want_name, name_len);
    }
  }
  free(ring);
  free(block);
  free(want_name);
}

void
ats_block_negative(const cJSON *c)
{
  size_t ring_len = 0, len = 0;
  uint8_t out[1024];
  uint8_t *ring = hex_field(c, "keyring", &ring_len);
  uint64_t cap = u64_field(c, "buffer_len");
  if (ring && cap <= sizeof out) {
    expect_status("ats block",
                  atsreuse_keyring_ats_block(ring, ring_len, u64_field(c, "t"), out, (size_t)cap, &len),
                  expected_error(c));
  }
  free(ring);
}
