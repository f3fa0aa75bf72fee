/* The C API's contract as a C caller sees it: NULL arguments, bad arguments, status names,
 * and a start with a bad config file that fails with ATSREUSE_STATUS_CONFIG and a log line
 * naming the file, the line and the key. Usage: atsreuse_api_test <scratch dir> */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atsreuse.h"

static int failures;
static int checks;

#define CHECK(cond, ...)                    \
  do {                                      \
    checks++;                               \
    if (!(cond)) {                          \
      failures++;                           \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);         \
      fputc('\n', stderr);                  \
    }                                       \
  } while (0)

#define CHECK_STATUS(call, want)                                                       \
  do {                                                                                 \
    atsreuse_status got_ = (call);                                                     \
    CHECK(got_ == (want), "%s: got %u (%s), want %u (%s)", #call, (unsigned)got_,      \
          atsreuse_status_str(got_), (unsigned)(want), atsreuse_status_str(want));     \
  } while (0)

/* What the log callback saw. */
struct log_capture {
  int lines;
  int errors;
  char last_error[1024];
};

static void
capture_log(void *userdata, atsreuse_log_level level, const char *line)
{
  struct log_capture *cap = userdata;
  cap->lines++;
  if (level == ATSREUSE_LOG_LEVEL_ERROR) {
    cap->errors++;
    snprintf(cap->last_error, sizeof cap->last_error, "%s", line);
  }
}

static void
write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
    perror(path);
    exit(2);
  }
}

static const uint8_t PSK[] = "0123456789abcdef0123456789abcdef\n";
static const size_t PSK_LEN = sizeof PSK - 1;
static const uint8_t NODE_ID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void
test_status_names(void)
{
  const atsreuse_status known[] = {
    ATSREUSE_STATUS_OK, ATSREUSE_STATUS_NOT_FOUND, ATSREUSE_STATUS_NULL_ARGUMENT,
    ATSREUSE_STATUS_INVALID_ARGUMENT, ATSREUSE_STATUS_BUFFER_TOO_SMALL, ATSREUSE_STATUS_CONFIG,
    ATSREUSE_STATUS_PSK, ATSREUSE_STATUS_QUEUE_FULL, ATSREUSE_STATUS_STOPPED, ATSREUSE_STATUS_OPEN_FAILED,
    ATSREUSE_STATUS_STALE, ATSREUSE_STATUS_MALFORMED, ATSREUSE_STATUS_UNKNOWN_VERSION,
    ATSREUSE_STATUS_WRONG_KIND, ATSREUSE_STATUS_FROM_FUTURE, ATSREUSE_STATUS_BAD_CLUSTER_NAME,
    ATSREUSE_STATUS_BAD_SESSION_ID, ATSREUSE_STATUS_BAD_DER, ATSREUSE_STATUS_PANIC, ATSREUSE_STATUS_INTERNAL,
  };
  const size_t n = sizeof known / sizeof known[0];
  const char *unknown = atsreuse_status_str(4242);
  CHECK(unknown != NULL && strcmp(unknown, "unknown status") == 0, "unknown status name: %s", unknown);
  for (size_t i = 0; i < n; i++) {
    const char *name = atsreuse_status_str(known[i]);
    CHECK(name != NULL && name[0] != '\0', "status %u has no name", (unsigned)known[i]);
    CHECK(strcmp(name, unknown) != 0, "status %u is called unknown", (unsigned)known[i]);
    for (size_t j = 0; j < i; j++) {
      CHECK(strcmp(name, atsreuse_status_str(known[j])) != 0, "statuses %u and %u share a name",
            (unsigned)known[i], (unsigned)known[j]);
    }
  }
  /* The fixed numbers of the contract. */
  CHECK(ATSREUSE_STATUS_NULL_ARGUMENT == 7001 && ATSREUSE_STATUS_CONFIG == 7004 && ATSREUSE_STATUS_PANIC == 7099,
        "status numbers moved");
  CHECK(sizeof(atsreuse_status) == 4, "atsreuse_status is %zu bytes", sizeof(atsreuse_status));
  CHECK(atsreuse_stats_size() == sizeof(atsreuse_stats), "atsreuse_stats is %zu bytes here, %zu in the library",
        sizeof(atsreuse_stats), atsreuse_stats_size());
  const char *version = atsreuse_version();
  CHECK(version != NULL && strchr(version, '.') != NULL, "version: %s", version ? version : "(null)");
}

static void
test_null_arguments(void)
{
  uint8_t buf[512];
  size_t len = 0;
  char pw[65];
  atsreuse_node *node = (atsreuse_node *)&buf; /* never dereferenced: NULL checks come first */
  atsreuse_stats stats;
  atsreuse_header header;
  atsreuse_session_info info;
  atsreuse_key_schedule ks;
  const uint8_t id[4] = {1, 2, 3, 4};

  CHECK_STATUS(atsreuse_node_start(NULL, NULL, (atsreuse_node **)&node), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK(node == NULL, "node_out not cleared on failure");
  CHECK_STATUS(atsreuse_node_start("x.config", NULL, NULL), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_node_publish(NULL, id, 4, id, 4), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_node_lookup(NULL, id, 4, buf, sizeof buf, &len), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_node_stats(NULL, &stats), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_node_rotate_now(NULL), ATSREUSE_STATUS_NULL_ARGUMENT);
  atsreuse_node_stop(NULL); /* a no-op */

  CHECK_STATUS(atsreuse_redis_password(NULL, 4, "c", pw, sizeof pw), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_redis_password(PSK, PSK_LEN, NULL, pw, sizeof pw), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_redis_password(PSK, PSK_LEN, "c", NULL, sizeof pw), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_keys_derive(PSK, PSK_LEN, "c", NULL, &ks), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_keys_derive(PSK, PSK_LEN, "c", NODE_ID, NULL), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_envelope_seal(PSK, PSK_LEN, "c", ATSREUSE_KIND_SESSION, NODE_ID, 0, 0, NULL, 0, buf,
                                      sizeof buf, &len),
               ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_envelope_seal(PSK, PSK_LEN, "c", ATSREUSE_KIND_SESSION, NODE_ID, 0, 0, id, 4, buf,
                                      sizeof buf, NULL),
               ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_envelope_open(PSK, PSK_LEN, "c", ATSREUSE_KIND_SESSION, buf, 60, NULL, buf, sizeof buf,
                                      &len, NULL),
               ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_session_record_encode(id, 4, NULL, 4, 0, buf, sizeof buf, &len),
               ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_session_record_decode(buf, 20, buf, sizeof buf, NULL), ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_session_seal(PSK, PSK_LEN, "c", NODE_ID, 0, 0, id, 4, id, 4, 0, NULL, 100, &len),
               ATSREUSE_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "c", buf, 100, NULL, buf, sizeof buf, &info, NULL),
               ATSREUSE_STATUS_NULL_ARGUMENT);
  (void)header;
}

static void
test_bad_arguments(void)
{
  uint8_t env[512], der[512], rec[128];
  size_t env_len = 0, len = 0;
  char pw[65];
  atsreuse_header header;
  atsreuse_session_info info;
  const uint8_t id[33] = {7};
  const uint8_t der_in[8] = {0x30, 0x82, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};

  /* PSK and cluster name. */
  CHECK_STATUS(atsreuse_redis_password((const uint8_t *)"\n", 1, "c", pw, sizeof pw), ATSREUSE_STATUS_PSK);
  CHECK_STATUS(atsreuse_redis_password(PSK, PSK_LEN, "", pw, sizeof pw), ATSREUSE_STATUS_BAD_CLUSTER_NAME);
  CHECK_STATUS(atsreuse_redis_password(PSK, PSK_LEN, "c", pw, 64), ATSREUSE_STATUS_BUFFER_TOO_SMALL);
  CHECK_STATUS(atsreuse_redis_password(PSK, PSK_LEN, "\xff\xfe", pw, sizeof pw), ATSREUSE_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(atsreuse_redis_password(PSK, PSK_LEN, "c", pw, sizeof pw), ATSREUSE_STATUS_OK);
  CHECK(strlen(pw) == 64 && strspn(pw, "0123456789abcdef") == 64, "password %s", pw);

  /* Kinds and record bounds. */
  CHECK_STATUS(atsreuse_envelope_seal(PSK, PSK_LEN, "c", 9, NODE_ID, 0, 0, der_in, 8, env, sizeof env, &len),
               ATSREUSE_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(atsreuse_session_record_encode(id, 33, der_in, 8, 0, rec, sizeof rec, &len),
               ATSREUSE_STATUS_BAD_SESSION_ID);
  CHECK_STATUS(atsreuse_session_record_encode(id, 0, der_in, 8, 0, rec, sizeof rec, &len),
               ATSREUSE_STATUS_BAD_SESSION_ID);
  CHECK_STATUS(atsreuse_session_record_encode(id, 4, der_in, 0, 0, rec, sizeof rec, &len), ATSREUSE_STATUS_BAD_DER);
  CHECK_STATUS(atsreuse_session_record_encode(id, 4, der_in, 8, 0, rec, 5, &len), ATSREUSE_STATUS_BUFFER_TOO_SMALL);
  CHECK(len == 1 + 4 + 8 + 2 + 8, "needed length %zu", len);

  /* A sealed session: round trip, then every way to refuse it. */
  CHECK_STATUS(atsreuse_session_seal(PSK, PSK_LEN, "pod", NODE_ID, 5, 1000, id, 4, der_in, 8, 2000, env, 10, &env_len),
               ATSREUSE_STATUS_BUFFER_TOO_SMALL);
  CHECK(env_len == 23 + 50, "needed envelope length %zu", env_len);
  CHECK_STATUS(atsreuse_session_seal(PSK, PSK_LEN, "pod", NODE_ID, 5, 1000, id, 4, der_in, 8, 2000, env, sizeof env,
                                     &env_len),
               ATSREUSE_STATUS_OK);
  atsreuse_freshness fresh = {.now = 1010, .max_age_secs = 60, .max_future_secs = 5};
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "pod", env, env_len, &fresh, der, sizeof der, &info, &header),
               ATSREUSE_STATUS_OK);
  CHECK(info.der_len == 8 && memcmp(der, der_in, 8) == 0, "DER differs");
  CHECK(info.id_len == 4 && memcmp(info.id, id, 4) == 0 && info.expires_at == 2000, "record fields differ");
  CHECK(header.sequence == 5 && header.issued_at == 1000 && memcmp(header.sender, NODE_ID, 16) == 0 &&
          header.kind == ATSREUSE_KIND_SESSION,
        "header differs");
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "pod", env, env_len, &fresh, der, 4, &info, &header),
               ATSREUSE_STATUS_BUFFER_TOO_SMALL);
  CHECK(info.der_len == 8, "needed DER length %zu", info.der_len);
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "other", env, env_len, NULL, der, sizeof der, &info, &header),
               ATSREUSE_STATUS_OPEN_FAILED);
  CHECK_STATUS(atsreuse_session_open((const uint8_t *)"another psk", 11, "pod", env, env_len, NULL, der, sizeof der,
                                     &info, &header),
               ATSREUSE_STATUS_OPEN_FAILED);
  fresh.now = 2000;
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "pod", env, env_len, &fresh, der, sizeof der, &info, &header),
               ATSREUSE_STATUS_STALE);
  fresh.now = 100;
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "pod", env, env_len, &fresh, der, sizeof der, &info, &header),
               ATSREUSE_STATUS_FROM_FUTURE);
  CHECK_STATUS(atsreuse_envelope_open(PSK, PSK_LEN, "pod", ATSREUSE_KIND_KEYRING, env, env_len, NULL, der, sizeof der,
                                      &len, &header),
               ATSREUSE_STATUS_WRONG_KIND);
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "pod", env, 20, NULL, der, sizeof der, &info, &header),
               ATSREUSE_STATUS_MALFORMED);
  env[0] ^= 0x80;
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "pod", env, env_len, NULL, der, sizeof der, &info, &header),
               ATSREUSE_STATUS_UNKNOWN_VERSION);
  env[0] ^= 0x80;
  env[env_len - 1] ^= 1;
  CHECK_STATUS(atsreuse_session_open(PSK, PSK_LEN, "pod", env, env_len, NULL, der, sizeof der, &info, &header),
               ATSREUSE_STATUS_OPEN_FAILED);
}

/* Starting a node with a config that cannot be used: CONFIG, no node, and the log line says
 * which file, line and key. */
static void
test_start_with_bad_config(const char *dir)
{
  char config[1024], psk[1024];
  struct log_capture cap = {0};
  atsreuse_callbacks cb = {.userdata = &cap, .install_keys = NULL, .log = capture_log};
  atsreuse_node *node = NULL;

  snprintf(psk, sizeof psk, "%s/api-test.psk", dir);
  write_file(psk, "0123456789abcdef0123456789abcdef\n");
  snprintf(config, sizeof config, "%s/api-test.config", dir);
  write_file(config, "ssl_session.ClusterName=pod\n# a comment\nssl_session.redis_auth_key_file=api-test.psk\n"
                     "atsreuse.lease_secs=soon\n");

  CHECK_STATUS(atsreuse_node_start(config, &cb, &node), ATSREUSE_STATUS_CONFIG);
  CHECK(node == NULL, "a node came back from a failed start");
  CHECK(cap.errors == 1, "%d error lines", cap.errors);
  CHECK(strstr(cap.last_error, config) != NULL, "log line lacks the file: %s", cap.last_error);
  CHECK(strstr(cap.last_error, ":4:") != NULL, "log line lacks the line: %s", cap.last_error);
  CHECK(strstr(cap.last_error, "atsreuse.lease_secs") != NULL, "log line lacks the key: %s", cap.last_error);

  /* A missing PSK file: the error names the key that points to it. */
  write_file(config, "ssl_session.ClusterName=pod\nssl_session.redis_auth_key_file=no-such.psk\n");
  memset(&cap, 0, sizeof cap);
  CHECK_STATUS(atsreuse_node_start(config, &cb, &node), ATSREUSE_STATUS_CONFIG);
  CHECK(strstr(cap.last_error, ":2: ssl_session.redis_auth_key_file") != NULL, "log line: %s", cap.last_error);
  CHECK(strstr(cap.last_error, "no-such.psk") != NULL, "log line lacks the PSK path: %s", cap.last_error);

  /* A PSK that cannot be sent as a Redis password (mode psk, not UTF-8): PSK, and a log line. */
  write_file(psk, "\xff\xfe\xfd\xfc" "0123456789abcdef\n");
  write_file(config, "ssl_session.ClusterName=pod\nssl_session.redis_auth_key_file=api-test.psk\n"
                     "atsreuse.redis_password_mode=psk\nredis.RedisEndpoints=127.0.0.1:1\n");
  memset(&cap, 0, sizeof cap);
  CHECK_STATUS(atsreuse_node_start(config, &cb, &node), ATSREUSE_STATUS_PSK);
  CHECK(node == NULL && cap.errors == 1, "node %p, %d error lines", (void *)node, cap.errors);
  CHECK(strstr(cap.last_error, "PSK") != NULL, "log line: %s", cap.last_error);

  /* A missing config file. */
  memset(&cap, 0, sizeof cap);
  snprintf(config, sizeof config, "%s/does-not-exist.config", dir);
  CHECK_STATUS(atsreuse_node_start(config, &cb, &node), ATSREUSE_STATUS_CONFIG);
  CHECK(strstr(cap.last_error, config) != NULL, "log line lacks the file: %s", cap.last_error);
  /* Unix paths are bytes: a path that is not UTF-8 is looked up as it is, and its absence is logged. */
  memset(&cap, 0, sizeof cap);
  CHECK_STATUS(atsreuse_node_start("\xff.config", &cb, &node), ATSREUSE_STATUS_CONFIG);
  CHECK(cap.errors == 1, "%d error lines for a missing non-UTF-8 path", cap.errors);

  /* Without callbacks a failed start is still CONFIG (nothing to log to). */
  CHECK_STATUS(atsreuse_node_start(config, NULL, &node), ATSREUSE_STATUS_CONFIG);
}

int
main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: %s <scratch dir>\n", argv[0]);
    return 2;
  }
  test_status_names();
  test_null_arguments();
  test_bad_arguments();
  test_start_with_bad_config(argv[1]);
  printf("api: %d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
