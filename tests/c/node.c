/* Two nodes through the C API against a real redis-server that this program starts on a free
 * loopback port (with requirepass set to the derived password) and kills at exit: keys are
 * handed out at start and converge, a session published on one node is found on the other,
 * rotate_now moves the pod to a new epoch, stats count what happened, stop joins cleanly.
 * Usage: atsreuse_node_test <scratch dir> */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atsreuse.h"

extern char **environ;

static int failures;
static pid_t redis_pid = -1;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      failures++;                                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
    }                                                      \
  } while (0)

/* What a node's callbacks saw; the callbacks run on the node's threads. */
struct host {
  const char *name;
  pthread_mutex_t lock;
  uint8_t block[8 * 48];
  size_t block_len;
  int installs;
  int errors;
};

static void
on_keys(void *userdata, const uint8_t *block, size_t len)
{
  struct host *h = userdata;
  pthread_mutex_lock(&h->lock);
  if (len <= sizeof h->block) {
    memcpy(h->block, block, len);
    h->block_len = len;
  }
  h->installs++;
  pthread_mutex_unlock(&h->lock);
}

static void
on_log(void *userdata, atsreuse_log_level level, const char *line)
{
  struct host *h = userdata;
  if (level <= ATSREUSE_LOG_LEVEL_INFO) {
    fprintf(stderr, "  [%s] %d %s\n", h->name, (int)level, line);
  }
  if (level == ATSREUSE_LOG_LEVEL_ERROR) {
    pthread_mutex_lock(&h->lock);
    h->errors++;
    pthread_mutex_unlock(&h->lock);
  }
}

static double
now_secs(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
stop_redis(void)
{
  if (redis_pid > 0) {
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    redis_pid = -1;
  }
}

static void
on_signal(int sig)
{
  stop_redis();
  signal(sig, SIG_DFL);
  raise(sig);
}

static int
free_port(void)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    perror("free port");
    exit(2);
  }
  close(fd);
  return ntohs(a.sin_port);
}

static int
port_open(int port)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0) {
    close(fd);
  }
  return ok;
}

static void
start_redis(const char *dir, int port, const char *password)
{
  char port_s[16];
  snprintf(port_s, sizeof port_s, "%d", port);
  char *argv[] = {"redis-server", "--bind", "127.0.0.1", "--port", port_s, "--save", "", "--appendonly", "no",
                  "--requirepass", (char *)password, "--dir", (char *)dir, "--logfile", "redis.log", NULL};
  /* redis-server's output goes to its log file; it must not hold our stdout open. */
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  int spawned = posix_spawnp(&redis_pid, "redis-server", &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    fprintf(stderr, "cannot start redis-server\n");
    exit(2);
  }
  atexit(stop_redis);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  double deadline = now_secs() + 10;
  while (!port_open(port)) {
    if (now_secs() > deadline) {
      fprintf(stderr, "redis-server did not start\n");
      exit(2);
    }
    usleep(20000);
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

/* Waits up to `secs` for both hosts to encrypt with the same key (the first 48 bytes of the
 * block). The rest may differ for a while: a node keeps its local start key for decryption. */
static int
wait_converged(struct host *a, struct host *b, double secs)
{
  double deadline = now_secs() + secs;
  while (now_secs() < deadline) {
    pthread_mutex_lock(&a->lock);
    pthread_mutex_lock(&b->lock);
    int same = a->block_len >= 48 && b->block_len >= 48 && memcmp(a->block, b->block, 48) == 0;
    pthread_mutex_unlock(&b->lock);
    pthread_mutex_unlock(&a->lock);
    if (same) {
      return 1;
    }
    usleep(50000);
  }
  return 0;
}

static uint64_t
epoch_of(atsreuse_node *node)
{
  atsreuse_stats s;
  return atsreuse_node_stats(node, &s) == ATSREUSE_STATUS_OK ? s.keyring_epoch : 0;
}

int
main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: %s <scratch dir>\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  setvbuf(stdout, NULL, _IONBF, 0);
  char path[1024], config_a[1024], config_b[1024], text[2048];
  static const char psk[] = "node-test-psk-0123456789abcdef\n";
  char password[65];

  /* Redis, with the password the nodes derive from the PSK. */
  snprintf(path, sizeof path, "%s/node-test.psk", dir);
  write_file(path, psk);
  chmod(path, 0600);
  CHECK(atsreuse_redis_password((const uint8_t *)psk, strlen(psk), "nodetest", password, sizeof password) ==
          ATSREUSE_STATUS_OK,
        "derived password");
  int port = free_port();
  start_redis(dir, port, password);

  const char *names[2] = {"a", "b"};
  char *configs[2] = {config_a, config_b};
  for (int i = 0; i < 2; i++) {
    snprintf(configs[i], sizeof config_a, "%s/node-%s.config", dir, names[i]);
    snprintf(text, sizeof text,
             "ssl_session.ClusterName=nodetest\nssl_session.redis_auth_key_file=node-test.psk\n"
             "redis.RedisEndpoints=127.0.0.1:%d\natsreuse.node_name=%s\n"
             "atsreuse.rotation_interval_secs=60\natsreuse.lead_time_secs=10\natsreuse.ticket_lifetime_secs=60\n"
             "atsreuse.lease_secs=2\natsreuse.keyring_poll_secs=5\n",
             port, names[i]);
    write_file(configs[i], text);
  }

  struct host ha = {.name = "a", .lock = PTHREAD_MUTEX_INITIALIZER};
  struct host hb = {.name = "b", .lock = PTHREAD_MUTEX_INITIALIZER};
  atsreuse_callbacks cba = {.userdata = &ha, .install_keys = on_keys, .log = on_log};
  atsreuse_callbacks cbb = {.userdata = &hb, .install_keys = on_keys, .log = on_log};
  atsreuse_node *a = NULL, *b = NULL;

  /* Start: a key block is handed out before start returns. */
  CHECK(atsreuse_node_start(config_a, &cba, &a) == ATSREUSE_STATUS_OK && a != NULL, "start a");
  CHECK(atsreuse_node_start(config_b, &cbb, &b) == ATSREUSE_STATUS_OK && b != NULL, "start b");
  if (a == NULL || b == NULL) {
    atsreuse_node_stop(a);
    atsreuse_node_stop(b);
    return 1;
  }
  CHECK(ha.installs >= 1 && hb.installs >= 1, "no key block at start (%d, %d)", ha.installs, hb.installs);
  CHECK(wait_converged(&ha, &hb, 20), "the nodes do not encrypt with the same key");

  /* A session published on a is found on b. */
  uint8_t id[32], der[200], out[512];
  for (int i = 0; i < 32; i++) {
    id[i] = (uint8_t)(0xa0 + i);
  }
  for (int i = 0; i < 200; i++) {
    der[i] = (uint8_t)i;
  }
  der[0] = 0x30;
  size_t len = 0;
  double t0 = now_secs();
  CHECK(atsreuse_node_publish(a, id, sizeof id, der, sizeof der) == ATSREUSE_STATUS_OK, "publish");
  double publish_secs = now_secs() - t0;
  atsreuse_status st = ATSREUSE_STATUS_NOT_FOUND;
  double worst_lookup = 0;
  while (st == ATSREUSE_STATUS_NOT_FOUND && now_secs() - t0 < 5) {
    double l0 = now_secs();
    st = atsreuse_node_lookup(b, id, sizeof id, out, sizeof out, &len);
    if (now_secs() - l0 > worst_lookup) {
      worst_lookup = now_secs() - l0;
    }
    if (st == ATSREUSE_STATUS_NOT_FOUND) {
      usleep(1000);
    }
  }
  double delay = now_secs() - t0;
  CHECK(st == ATSREUSE_STATUS_OK && len == sizeof der && memcmp(out, der, len) == 0,
        "session not found on b: %s", atsreuse_status_str(st));
  printf("node: publish %.1f us, publish-to-lookup %.1f ms, worst lookup call %.1f us\n", publish_secs * 1e6,
         delay * 1e3, worst_lookup * 1e6);

  CHECK(atsreuse_node_lookup(b, id, sizeof id, out, 10, &len) == ATSREUSE_STATUS_BUFFER_TOO_SMALL && len == sizeof der,
        "small buffer: len %zu", len);
  id[0] ^= 1;
  CHECK(atsreuse_node_lookup(b, id, sizeof id, out, sizeof out, &len) == ATSREUSE_STATUS_NOT_FOUND && len == 0,
        "unknown id found");
  CHECK(atsreuse_node_publish(a, id, 0, der, sizeof der) == ATSREUSE_STATUS_INVALID_ARGUMENT, "empty id accepted");
  CHECK(atsreuse_node_publish(a, out, 33, der, sizeof der) == ATSREUSE_STATUS_INVALID_ARGUMENT, "33-byte id accepted");
  CHECK(atsreuse_node_publish(a, id, 32, der, 0) == ATSREUSE_STATUS_INVALID_ARGUMENT, "empty DER accepted");

  /* Stats count it. */
  atsreuse_stats sa, sb;
  CHECK(atsreuse_node_stats(a, &sa) == ATSREUSE_STATUS_OK && atsreuse_node_stats(b, &sb) == ATSREUSE_STATUS_OK,
        "stats");
  CHECK(sa.sessions_published >= 1, "a published %llu", (unsigned long long)sa.sessions_published);
  CHECK(sb.sessions_received >= 1, "b received %llu", (unsigned long long)sb.sessions_received);
  CHECK(sb.lookups_hit >= 1 && sb.lookups_miss >= 1, "b lookups %llu hit %llu miss",
        (unsigned long long)sb.lookups_hit, (unsigned long long)sb.lookups_miss);
  CHECK(sa.redis_endpoints == 1 && sa.redis_connected == 1, "a connected %llu of %llu",
        (unsigned long long)sa.redis_connected, (unsigned long long)sa.redis_endpoints);
  CHECK(sa.is_leader + sb.is_leader == 1, "leaders: %llu + %llu", (unsigned long long)sa.is_leader,
        (unsigned long long)sb.is_leader);

  /* rotate_now on b: both nodes reach a newer epoch and the same key block. */
  uint64_t before = epoch_of(a);
  t0 = now_secs();
  CHECK(atsreuse_node_rotate_now(b) == ATSREUSE_STATUS_OK, "rotate_now");
  while ((epoch_of(a) <= before || epoch_of(b) <= before) && now_secs() - t0 < 15) {
    usleep(50000);
  }
  CHECK(epoch_of(a) > before && epoch_of(b) > before, "epoch still %llu/%llu (was %llu)",
        (unsigned long long)epoch_of(a), (unsigned long long)epoch_of(b), (unsigned long long)before);
  printf("node: rotation seen by both nodes after %.2f s (epoch %llu -> %llu)\n", now_secs() - t0,
         (unsigned long long)before, (unsigned long long)epoch_of(a));
  CHECK(wait_converged(&ha, &hb, 20), "the nodes encrypt with different keys after the rotation");
  CHECK(ha.errors == 0 && hb.errors == 0, "error lines logged: %d, %d", ha.errors, hb.errors);

  t0 = now_secs();
  atsreuse_node_stop(a);
  atsreuse_node_stop(b);
  printf("node: both stopped in %.2f s; %d failures\n", now_secs() - t0, failures);
  stop_redis();
  return failures == 0 ? 0 : 1;
}
