/** @file

  atsreuse.so: an Apache Traffic Server global plugin that shares TLS sessions and session-ticket keys (STEKs) across a
  pod of ATS nodes. All logic (config, Redis, sealing, rotation) lives in libatsreuse, linked in statically; this file
  only connects ATS hooks to the libatsreuse C API (include/atsreuse.h).

  plugin.config line: `atsreuse.so <config file>`; a relative path is taken relative to the ATS config directory.

  Threads (ATS 9.2, see docs/plugin.md for the source references):
  - TS_SSL_SESSION_HOOK runs on ET_NET threads, many at once: publish and lookup only copy bytes or read a map.
  - libatsreuse calls on_install_keys() and on_log() from its own threads. Those threads never call into ATS except for
    TSError/TSDebug: TSContSchedule* asserts that it runs on an EThread, so a key block is parked in a locked buffer
    and installed with TSSslTicketKeyUpdate() by a continuation that runs every 200 ms on ET_TASK (and once,
    synchronously, when the proxy ports are initialized, before the first connection is accepted).

  The source is the common subset of C11 and C++17: ATS 9.2 headers are C, ATS 10 headers are C++17 only.

  Licensed under the Apache License, Version 2.0.
 */

/* nanosleep and PATH_MAX are POSIX; strict C11 hides them unless asked. g++ enables them by default. */
#if !defined(__cplusplus) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <ts/ts.h>

#include "atsreuse.h"

#define PLUGIN_NAME "atsreuse"

/* ATS 10 removed TSDebug in favour of a debug control object; its ts.h is C++ only, so this branch is C++. */
#if TS_VERSION_MAJOR >= 10
namespace
{
DbgCtl dbg_ctl{PLUGIN_NAME};
}
#define PLUGIN_DEBUG(...) Dbg(dbg_ctl, __VA_ARGS__)
#else
#define PLUGIN_DEBUG(...) TSDebug(PLUGIN_NAME, __VA_ARGS__)
#endif

/* The first argument must be a string literal: it is joined to the bracketed prefix at compile time. */
#define PLUGIN_ERROR(...) TSError("[" PLUGIN_NAME "] " __VA_ARGS__)

/* The records.config name of the session cache mode changed in ATS 10. */
#if TS_VERSION_MAJOR >= 10
#define SESSION_CACHE_RECORD "proxy.config.ssl.session_cache.mode"
#else
#define SESSION_CACHE_RECORD "proxy.config.ssl.session_cache"
#endif

/* One STEK as TSSslTicketKeyUpdate takes it: key name 16, HMAC secret 16, AES key 16. */
#define TICKET_KEY_LEN 48
/* A keyring block larger than this is refused (libatsreuse keeps far fewer keys). */
#define KEY_BLOCK_MAX_KEYS 64
/* ATS 9.2 caches no session whose DER exceeds 256 bytes (SSL_MAX_SESSION_SIZE); 1 KiB leaves room. */
#define SESSION_DER_MAX 1024
/* Key installs are checked this often on ET_TASK (a mutex and a compare when nothing is new), so a block from the library
   reaches ATS within this delay; stats are refreshed every STATS_EVERY_TICKS ticks. */
#define TIMER_PERIOD_MS 200
#define STATS_EVERY_TICKS 5
/* While records name a ticket key file, ATS may load it over the pod's keys (it does, about 2 s after a config reload):
   the current block is installed again this often (25 ticks = 5 s). */
#define REASSERT_EVERY_TICKS 25
#define TICKET_KEY_FILE_RECORD "proxy.config.ssl.server.ticket_key.filename"
/* At shutdown, how long to wait for hook calls still using the node before stopping it. */
#define SHUTDOWN_DRAIN_MS 2000

/* Counters the plugin keeps itself, next to the library's: indexes into plugin_state.own_counts. They are plain atomics
   copied into ATS stats by the timer, because TSStatIntIncrement only counts on event threads (not on the main thread,
   where the first key install runs). */
enum own_stat {
  OWN_STAT_SESSIONS_INSERTED,    /* shared sessions handed to ATS's session cache on a GET */
  OWN_STAT_KEY_INSTALLS,         /* key blocks ATS accepted */
  OWN_STAT_KEY_INSTALL_FAILURES, /* key blocks ATS refused */
  OWN_STAT_COUNT
};

static const char *const own_stat_names[OWN_STAT_COUNT] = {
  "plugin." PLUGIN_NAME ".sessions_inserted",
  "plugin." PLUGIN_NAME ".ats_key_installs",
  "plugin." PLUGIN_NAME ".ats_key_install_failures",
};

/* Every field of atsreuse_stats, published as plugin.atsreuse.<field>. A field added to the header needs a line here. */
typedef struct library_stat {
  const char *name;
  size_t offset;
} library_stat;

#define LIBRARY_STAT(field) {"plugin." PLUGIN_NAME "." #field, offsetof(atsreuse_stats, field)}

static const library_stat library_stats[] = {
  LIBRARY_STAT(sessions_published), LIBRARY_STAT(sessions_dropped),   LIBRARY_STAT(sessions_received),
  LIBRARY_STAT(lookups_hit),        LIBRARY_STAT(lookups_miss),       LIBRARY_STAT(rejected_malformed),
  LIBRARY_STAT(rejected_bad_tag),   LIBRARY_STAT(rejected_stale),     LIBRARY_STAT(rejected_old_epoch),
  LIBRARY_STAT(ignored_own),        LIBRARY_STAT(keyrings_installed), LIBRARY_STAT(rotations),
  LIBRARY_STAT(keyring_epoch),      LIBRARY_STAT(keyring_age_secs),   LIBRARY_STAT(is_leader),
  LIBRARY_STAT(redis_connected),    LIBRARY_STAT(redis_endpoints),    LIBRARY_STAT(session_map_len),
  LIBRARY_STAT(endpoint_queue_dropped), LIBRARY_STAT(keyring_writes), LIBRARY_STAT(redis_failures),
  LIBRARY_STAT(legacy_received),    LIBRARY_STAT(legacy_rejected),
};

#define LIBRARY_STAT_COUNT (sizeof(library_stats) / sizeof(library_stats[0]))

/* A field added to atsreuse_stats without its line above stops the build here instead of going unpublished. */
static_assert(sizeof(atsreuse_stats) == LIBRARY_STAT_COUNT * sizeof(uint64_t), "every atsreuse_stats field needs a LIBRARY_STAT");

/* Everything the plugin holds. One instance; ATS loads a global plugin once. */
typedef struct plugin_state {
  /* The running node. Hooks read it through node_acquire(); shutdown swaps in NULL, then waits for in_flight to drain. */
  atsreuse_node *node;
  int in_flight;

  /* The last key block from libatsreuse, waiting to be installed on an ATS thread. Guarded by keys_lock. */
  pthread_mutex_t keys_lock;
  unsigned char keys[KEY_BLOCK_MAX_KEYS * TICKET_KEY_LEN];
  size_t keys_len;
  uint64_t keys_generation;      /* bumped by each block received; the first block is generation 1 */
  uint64_t installed_generation; /* generation ATS holds; 0 forces a (re)install */

  int library_stat_ids[LIBRARY_STAT_COUNT];
  int own_stat_ids[OWN_STAT_COUNT];
  uint64_t own_counts[OWN_STAT_COUNT];

  TSCont timer; /* key installs and stats refresh, scheduled once the task threads run */
} plugin_state;

static plugin_state state;

static void
own_count(enum own_stat which)
{
  __atomic_add_fetch(&state.own_counts[which], 1, __ATOMIC_RELAXED);
}

/* ---- libatsreuse callbacks (library threads) ---- */

/* Log lines from libatsreuse: errors and warnings go to error.log, the rest under the debug tag. */
static void
on_log(void *userdata, atsreuse_log_level level, const char *line)
{
  (void)userdata;
  if (line == NULL) {
    return;
  }
  if (level == ATSREUSE_LOG_LEVEL_ERROR) {
    PLUGIN_ERROR("error: %s", line);
  } else if (level == ATSREUSE_LOG_LEVEL_WARN) {
    PLUGIN_ERROR("warning: %s", line);
  } else {
    PLUGIN_DEBUG("%s", line);
  }
}

/* A new key block: park it for the ET_TASK continuation. Never calls ATS (see the file comment for why). */
static void
on_install_keys(void *userdata, const uint8_t *block, size_t len)
{
  uint64_t generation;

  (void)userdata;
  if (block == NULL || len == 0 || len % TICKET_KEY_LEN != 0 || len > sizeof(state.keys)) {
    PLUGIN_ERROR("libatsreuse handed over a key block of %zu bytes (need a non-zero multiple of %d, at most %d keys); "
                 "ATS keeps its current keys",
                 len, TICKET_KEY_LEN, KEY_BLOCK_MAX_KEYS);
    return;
  }

  pthread_mutex_lock(&state.keys_lock);
  if (len < state.keys_len) {
    OPENSSL_cleanse(state.keys + len, state.keys_len - len);
  }
  memcpy(state.keys, block, len);
  state.keys_len = len;
  generation     = ++state.keys_generation;
  pthread_mutex_unlock(&state.keys_lock);

  PLUGIN_DEBUG("received a block of %zu session ticket keys (generation %" PRIu64 ")", len / TICKET_KEY_LEN, generation);
}

/* ---- the node handle, shared by hooks on many threads ---- */

/* Returns the node for one call, or NULL once shutdown began; a non-NULL result must be paired with node_release(). */
static atsreuse_node *
node_acquire(void)
{
  atsreuse_node *node;

  __atomic_add_fetch(&state.in_flight, 1, __ATOMIC_SEQ_CST);
  node = __atomic_load_n(&state.node, __ATOMIC_SEQ_CST);
  if (node == NULL) {
    __atomic_sub_fetch(&state.in_flight, 1, __ATOMIC_SEQ_CST);
  }
  return node;
}

static void
node_release(void)
{
  __atomic_sub_fetch(&state.in_flight, 1, __ATOMIC_SEQ_CST);
}

/* Stops the library. Hooks that already hold the node finish first: each is a copy or a map read, so the wait is short. */
static void
node_shutdown(void)
{
  struct timespec nap = {0, 1000000};
  atsreuse_node *node = __atomic_exchange_n(&state.node, (atsreuse_node *)NULL, __ATOMIC_SEQ_CST);
  int waited_ms       = 0;

  if (node == NULL) {
    return;
  }
  while (__atomic_load_n(&state.in_flight, __ATOMIC_SEQ_CST) != 0 && waited_ms < SHUTDOWN_DRAIN_MS) {
    nanosleep(&nap, NULL);
    ++waited_ms;
  }
  if (__atomic_load_n(&state.in_flight, __ATOMIC_SEQ_CST) != 0) {
    /* Freeing the node under a running call would crash ATS while it exits; leaking it is harmless at exit. */
    PLUGIN_ERROR("hook calls still running after %d ms; libatsreuse is left running while ATS exits", SHUTDOWN_DRAIN_MS);
    return;
  }
  atsreuse_node_stop(node);

  /* ATS keeps its own copy of the keys; the parked block is not needed any more. */
  pthread_mutex_lock(&state.keys_lock);
  OPENSSL_cleanse(state.keys, sizeof(state.keys));
  state.keys_len = 0;
  pthread_mutex_unlock(&state.keys_lock);
  PLUGIN_DEBUG("libatsreuse stopped");
}

/* ---- session ticket keys (ATS threads) ---- */

/* Installs the parked key block if ATS does not hold it yet. Runs on ET_TASK or on the main thread at start. */
static void
keys_install(const char *when)
{
  uint64_t generation;
  size_t len;
  TSReturnCode result;

  pthread_mutex_lock(&state.keys_lock);
  generation = state.keys_generation;
  len        = state.keys_len;
  if (len == 0 || state.installed_generation == generation) {
    pthread_mutex_unlock(&state.keys_lock);
    return;
  }
  /* ATS copies the block into its own key block; marking the generation also on failure reports a refusal once. */
  result                     = TSSslTicketKeyUpdate((char *)state.keys, (int)len);
  state.installed_generation = generation;
  pthread_mutex_unlock(&state.keys_lock);

  if (result == TS_SUCCESS) {
    own_count(OWN_STAT_KEY_INSTALLS);
    PLUGIN_DEBUG("installed %zu session ticket keys in ATS (generation %" PRIu64 ", %s)", len / TICKET_KEY_LEN, generation,
                 when);
  } else {
    own_count(OWN_STAT_KEY_INSTALL_FAILURES);
    PLUGIN_ERROR("ATS refused a block of %zu session ticket keys (generation %" PRIu64 "); this node's tickets cannot be "
                 "opened by the pod until the next key update",
                 len / TICKET_KEY_LEN, generation);
  }
}

/* Installs the current block again at the next timer tick, whatever ATS did with it meanwhile. */
static void
keys_reinstall_soon(const char *why)
{
  pthread_mutex_lock(&state.keys_lock);
  state.installed_generation = 0;
  pthread_mutex_unlock(&state.keys_lock);
  PLUGIN_DEBUG("%s: the session ticket keys are installed again at the next tick", why);
}

/* True while records name a ticket key file, which ATS loads over the keys set through the API when it reloads. */
static int
ticket_key_file_set(void)
{
  TSMgmtString file = NULL;
  int set           = 0;

  if (TSMgmtStringGet(TICKET_KEY_FILE_RECORD, &file) == TS_SUCCESS && file != NULL) {
    set = file[0] != '\0';
    TSfree(file);
  }
  return set;
}

/* ---- sessions (ET_NET threads) ---- */

/* TS_EVENT_SSL_SESSION_NEW: ATS has cached a new session; hand its DER to libatsreuse for the pod. ATS raises no NEW
   for TLS 1.3 sessions (ssl_new_cached_session returns early for them): TLS 1.3 resumes by ticket only. */
static void
session_publish(const TSSslSessionID *id)
{
  unsigned char der[SESSION_DER_MAX];
  int len = (int)sizeof(der);
  int needed;
  atsreuse_node *node;
  atsreuse_status status;

  needed = TSSslSessionGetBuffer(id, (char *)der, &len);
  if (needed <= 0 || needed > (int)sizeof(der)) {
    PLUGIN_DEBUG("new session not taken from the ATS cache (length %d)", needed);
    return;
  }
  node = node_acquire();
  if (node != NULL) {
    status = atsreuse_node_publish(node, (const uint8_t *)id->bytes, id->len, der, (size_t)len);
    node_release();
    if (status != ATSREUSE_STATUS_OK) {
      PLUGIN_DEBUG("new session not published: %s", atsreuse_status_str(status));
    }
  }
  /* The DER holds the session's master secret. */
  OPENSSL_cleanse(der, (size_t)len);
}

/* TS_EVENT_SSL_SESSION_GET: fires before ATS looks in its own cache, so a session inserted here resumes this handshake. */
static void
session_fetch(const TSSslSessionID *id)
{
  unsigned char der[SESSION_DER_MAX];
  const unsigned char *cursor = der;
  size_t len                  = 0;
  atsreuse_node *node         = node_acquire();
  atsreuse_status status;
  SSL_SESSION *session;

  if (node == NULL) {
    return;
  }
  status = atsreuse_node_lookup(node, (const uint8_t *)id->bytes, id->len, der, sizeof(der), &len);
  node_release();
  if (status != ATSREUSE_STATUS_OK) {
    if (status != ATSREUSE_STATUS_NOT_FOUND) {
      PLUGIN_DEBUG("session lookup failed: %s", atsreuse_status_str(status));
    }
    return;
  }

  session = d2i_SSL_SESSION(NULL, &cursor, (long)len);
  OPENSSL_cleanse(der, len);
  if (session == NULL) {
    PLUGIN_DEBUG("a shared session of %zu bytes did not parse; full handshake", len);
    return;
  }
  /* ATS stores its own DER copy (SSLSessionBucket::insertSession); the SSL connection is only used for a curve stat. */
  if (TSSslSessionInsert(id, (TSSslSession)session, NULL) == TS_SUCCESS) {
    own_count(OWN_STAT_SESSIONS_INSERTED);
  }
  SSL_SESSION_free(session);
}

static int
session_hook(TSCont contp, TSEvent event, void *edata)
{
  const TSSslSessionID *id = (const TSSslSessionID *)edata;

  (void)contp;
  if (id == NULL || id->len == 0 || id->len > TS_SSL_MAX_SSL_SESSION_ID_LENGTH) {
    return 0;
  }
  if (event == TS_EVENT_SSL_SESSION_NEW) {
    session_publish(id);
  } else if (event == TS_EVENT_SSL_SESSION_GET) {
    session_fetch(id);
  }
  return 0;
}

/* ---- stats ---- */

static int
stat_create(const char *name)
{
  int id = -1;

  if (TSStatFindName(name, &id) == TS_SUCCESS) {
    return id;
  }
  return TSStatCreate(name, TS_RECORDDATATYPE_INT, TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_SUM);
}

static int
stats_create(void)
{
  size_t i;

  for (i = 0; i < LIBRARY_STAT_COUNT; ++i) {
    state.library_stat_ids[i] = stat_create(library_stats[i].name);
    if (state.library_stat_ids[i] < 0) {
      PLUGIN_ERROR("cannot create the stat %s", library_stats[i].name);
      return 0;
    }
  }
  for (i = 0; i < OWN_STAT_COUNT; ++i) {
    state.own_stat_ids[i] = stat_create(own_stat_names[i]);
    if (state.own_stat_ids[i] < 0) {
      PLUGIN_ERROR("cannot create the stat %s", own_stat_names[i]);
      return 0;
    }
  }
  return 1;
}

/* Copies the plugin's and the library's counters and gauges into the ATS stats. */
static void
stats_refresh(void)
{
  atsreuse_stats snapshot;
  atsreuse_node *node;
  atsreuse_status status;
  size_t i;

  for (i = 0; i < OWN_STAT_COUNT; ++i) {
    TSStatIntSet(state.own_stat_ids[i], (TSMgmtInt)__atomic_load_n(&state.own_counts[i], __ATOMIC_RELAXED));
  }
  node = node_acquire();
  if (node == NULL) {
    return;
  }
  status = atsreuse_node_stats(node, &snapshot);
  node_release();
  if (status != ATSREUSE_STATUS_OK) {
    PLUGIN_DEBUG("stats not read: %s", atsreuse_status_str(status));
    return;
  }
  for (i = 0; i < LIBRARY_STAT_COUNT; ++i) {
    const uint64_t *value = (const uint64_t *)((const char *)&snapshot + library_stats[i].offset);
    TSStatIntSet(state.library_stat_ids[i], (TSMgmtInt)*value);
  }
}

/* Every TIMER_PERIOD_MS on ET_TASK: the one place where key blocks from library threads reach ATS. The continuation's
   mutex serialises the ticks, so the tick counter needs no atomics. */
static int
timer_tick(TSCont contp, TSEvent event, void *edata)
{
  static unsigned ticks;

  (void)contp;
  (void)event;
  (void)edata;
  keys_install("key update");
  ++ticks;
  if (ticks % STATS_EVERY_TICKS == 0) {
    stats_refresh();
  }
  if (ticks % REASSERT_EVERY_TICKS == 0 && ticket_key_file_set()) {
    keys_reinstall_soon(TICKET_KEY_FILE_RECORD " is set");
  }
  return 0;
}

/* ---- operator messages: traffic_ctl plugin msg atsreuse <rotate|status> ---- */

static void
status_note(void)
{
  atsreuse_stats s;
  atsreuse_node *node = node_acquire();
  atsreuse_status status;

  if (node == NULL) {
    TSNote("[" PLUGIN_NAME "] status: not running");
    return;
  }
  status = atsreuse_node_stats(node, &s);
  node_release();
  if (status != ATSREUSE_STATUS_OK) {
    TSNote("[" PLUGIN_NAME "] status: stats unavailable (%s)", atsreuse_status_str(status));
    return;
  }
  TSNote("[" PLUGIN_NAME "] status: keyring epoch %" PRIu64 " (encrypting key active for %" PRIu64 " s), leader %s, "
         "redis %" PRIu64 "/%" PRIu64 " connected, sessions published %" PRIu64 " dropped %" PRIu64 " received %" PRIu64
         ", lookups hit %" PRIu64 " miss %" PRIu64 ", rotations %" PRIu64,
         s.keyring_epoch, s.keyring_age_secs, s.is_leader ? "yes" : "no", s.redis_connected, s.redis_endpoints,
         s.sessions_published, s.sessions_dropped, s.sessions_received, s.lookups_hit, s.lookups_miss, s.rotations);
}

static void
rotate_request(void)
{
  atsreuse_node *node = node_acquire();
  atsreuse_status status;

  if (node == NULL) {
    PLUGIN_ERROR("rotate: not running");
    return;
  }
  status = atsreuse_node_rotate_now(node);
  node_release();
  if (status == ATSREUSE_STATUS_OK) {
    TSNote("[" PLUGIN_NAME "] rotation requested");
  } else {
    PLUGIN_ERROR("rotate: %s", atsreuse_status_str(status));
  }
}

/* The message data is not NUL-terminated for sure; compare it as a length-bounded word, trailing blanks ignored. */
static void
message_handle(const TSPluginMsg *msg)
{
  const char *data;
  size_t len;

  if (msg == NULL || msg->tag == NULL || strcmp(msg->tag, PLUGIN_NAME) != 0) {
    return;
  }
  data = (const char *)msg->data;
  len  = data == NULL ? 0 : msg->data_size;
  while (len > 0 && (data[len - 1] == '\0' || isspace((unsigned char)data[len - 1]))) {
    --len;
  }
  if (len == 6 && memcmp(data, "rotate", 6) == 0) {
    rotate_request();
  } else if (len == 6 && memcmp(data, "status", 6) == 0) {
    status_note();
  } else {
    PLUGIN_ERROR("unknown message '%.*s'; known: rotate, status", (int)(len > 32 ? 32 : len), len == 0 ? "" : data);
  }
}

/* Lifecycle events and config reloads. The continuation has no mutex: the message hook runs off the event threads. */
static int
lifecycle_hook(TSCont contp, TSEvent event, void *edata)
{
  (void)contp;
  switch (event) {
  case TS_EVENT_LIFECYCLE_PORTS_INITIALIZED:
    keys_install("start");
    break;
  case TS_EVENT_LIFECYCLE_TASK_THREADS_READY:
    /* Not earlier: until the task threads are registered, ET_TASK still means ET_CALL, so a timer scheduled from
       TSPluginInit lands on the net threads. This event runs on a task thread, an EThread, as scheduling requires. */
    TSContScheduleEveryOnPool(state.timer, TIMER_PERIOD_MS, TS_THREAD_POOL_TASK);
    break;
  case TS_EVENT_LIFECYCLE_MSG:
    message_handle((const TSPluginMsg *)edata);
    break;
  case TS_EVENT_LIFECYCLE_SHUTDOWN:
    node_shutdown();
    break;
  case TS_EVENT_MGMT_UPDATE:
    keys_reinstall_soon("config reload");
    break;
  default:
    break;
  }
  return 0;
}

/* ---- start ---- */

/* A relative config path is taken relative to the ATS config directory, as for every other ATS config file. */
static int
config_path_resolve(const char *arg, char *out, size_t out_cap)
{
  int written;

  if (arg[0] == '/') {
    written = snprintf(out, out_cap, "%s", arg);
  } else {
    written = snprintf(out, out_cap, "%s/%s", TSConfigDirGet(), arg);
  }
  return written > 0 && (size_t)written < out_cap;
}

/* Settings that silently defeat sharing: say so once at start. */
static void
records_check(void)
{
  TSMgmtInt cache_mode     = 0;
  TSMgmtString ticket_file = NULL;

  if (TSMgmtIntGet(SESSION_CACHE_RECORD, &cache_mode) == TS_SUCCESS && cache_mode != 2) {
    PLUGIN_ERROR("warning: %s is %" PRId64 ", not 2: session ids are not shared (tickets still are)", SESSION_CACHE_RECORD,
                 (int64_t)cache_mode);
  }
  if (TSMgmtStringGet(TICKET_KEY_FILE_RECORD, &ticket_file) == TS_SUCCESS && ticket_file != NULL) {
    if (ticket_file[0] != '\0') {
      PLUGIN_ERROR("warning: " TICKET_KEY_FILE_RECORD " is set (%s): ATS loads that file over the pod's keys when it reloads "
                   "(the plugin puts the pod's back within 5 s); leave it unset",
                   ticket_file);
    }
    TSfree(ticket_file);
  }
}

static int
node_start(const char *config_path)
{
  atsreuse_callbacks callbacks;
  atsreuse_node *node = NULL;
  atsreuse_status status;

  /* A library built from another header would write past the plugin's stats struct: refuse it. */
  if (atsreuse_stats_size() != sizeof(atsreuse_stats)) {
    PLUGIN_ERROR("libatsreuse does not match the header the plugin was built with (stats %zu bytes, expected %zu); "
                 "ATS serves TLS without sharing sessions or keys",
                 atsreuse_stats_size(), sizeof(atsreuse_stats));
    return 0;
  }
  callbacks.userdata     = NULL;
  callbacks.install_keys = on_install_keys;
  callbacks.log          = on_log;
  status                 = atsreuse_node_start(config_path, &callbacks, &node);
  if (status != ATSREUSE_STATUS_OK || node == NULL) {
    PLUGIN_ERROR("cannot start with %s: %s; ATS serves TLS without sharing sessions or keys", config_path,
                 atsreuse_status_str(status));
    return 0;
  }
  __atomic_store_n(&state.node, node, __ATOMIC_SEQ_CST);
  return 1;
}

/* The session hook and the lifecycle continuation have no mutex: ATS calls them from many threads at once (and the
   message hook from its management thread); they only touch atomics and the locked key buffer. */
static int
hooks_add(void)
{
  TSCont lifecycle       = TSContCreate(lifecycle_hook, NULL);
  TSCont session         = TSContCreate(session_hook, NULL);
  TSMgmtInt task_threads = 0;

  state.timer = TSContCreate(timer_tick, TSMutexCreate());
  if (lifecycle == NULL || session == NULL || state.timer == NULL) {
    return 0;
  }
  TSLifecycleHookAdd(TS_LIFECYCLE_PORTS_INITIALIZED_HOOK, lifecycle);
  if (TSMgmtIntGet("proxy.config.task_threads", &task_threads) == TS_SUCCESS && task_threads < 1) {
    /* Without task threads ATS never raises TASK_THREADS_READY and runs ET_TASK work on the net threads: go there now
       (the main thread is an EThread, so scheduling is allowed here). */
    TSContScheduleEveryOnPool(state.timer, TIMER_PERIOD_MS, TS_THREAD_POOL_NET);
  } else {
    TSLifecycleHookAdd(TS_LIFECYCLE_TASK_THREADS_READY_HOOK, lifecycle);
  }
  TSLifecycleHookAdd(TS_LIFECYCLE_MSG_HOOK, lifecycle);
  TSLifecycleHookAdd(TS_LIFECYCLE_SHUTDOWN_HOOK, lifecycle);
  TSMgmtUpdateRegister(lifecycle, PLUGIN_NAME);
  TSHttpHookAdd(TS_SSL_SESSION_HOOK, session);
  return 1;
}

void
TSPluginInit(int argc, const char *argv[])
{
  TSPluginRegistrationInfo info;
  char config_path[PATH_MAX];

  info.plugin_name   = PLUGIN_NAME;
  info.vendor_name   = "atsreuse";
  info.support_email = "";
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    PLUGIN_ERROR("plugin registration failed; ATS serves TLS without sharing sessions or keys");
    return;
  }
  if (argc != 2) {
    PLUGIN_ERROR("plugin.config needs exactly one argument, the config file: %s.so <config>; ATS serves TLS without sharing",
                 PLUGIN_NAME);
    return;
  }
  if (!config_path_resolve(argv[1], config_path, sizeof(config_path))) {
    PLUGIN_ERROR("config path too long: %s; ATS serves TLS without sharing", argv[1]);
    return;
  }
  pthread_mutex_init(&state.keys_lock, NULL);
  if (!stats_create()) {
    return;
  }
  records_check();
  if (!node_start(config_path)) {
    return;
  }
  if (!hooks_add()) {
    PLUGIN_ERROR("cannot create continuations; stopping libatsreuse, ATS serves TLS without sharing");
    node_shutdown();
    return;
  }
  PLUGIN_DEBUG("started: libatsreuse %s, config %s", atsreuse_version(), config_path);
}
