/* Shared helpers of the C vector runner (vectors.c, stek_keyring.c). */
#ifndef ATSREUSE_TESTS_VECTORS_H
#define ATSREUSE_TESTS_VECTORS_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "atsreuse.h"

extern int failures;
extern const char *current_file;
extern const char *current_case;

/* Counts a failure and prints where it happened. */
#define FAIL(...)                                                                      \
  do {                                                                                 \
    failures++;                                                                        \
    fprintf(stderr, "FAIL %s: %s: ", current_file, current_case ? current_case : "?"); \
    fprintf(stderr, __VA_ARGS__);                                                      \
    fputc('\n', stderr);                                                               \
  } while (0)

/* A PSK, a cluster name and (when asked) a node id: the inputs most cases share. */
struct common {
  uint8_t *psk;
  size_t psk_len;
  const char *cluster;
  uint8_t node_id[16];
};

uint8_t *hex_field(const cJSON *obj, const char *key, size_t *len);
const char *str_field(const cJSON *obj, const char *key);
uint64_t u64_field(const cJSON *obj, const char *key);
int has_field(const cJSON *obj, const char *key);
void expect_bytes(const char *what, const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len);
void expect_status(const char *what, atsreuse_status got, atsreuse_status want);
atsreuse_status status_of_error(const char *error);
atsreuse_status expected_error(const cJSON *c);
uint32_t kind_of(const char *kind);
void fill_freshness(const cJSON *c, atsreuse_freshness *f);
int read_common(const cJSON *c, struct common *in, int want_node);

void stek_case(const cJSON *c);
void stek_negative(const cJSON *c);
void keyring_case(const cJSON *c);
void keyring_negative(const cJSON *c);
void ats_block_case(const cJSON *c);
void ats_block_negative(const cJSON *c);

#endif
