/* Runners for vectors/stek.json and vectors/keyring.json (schema in vectors/README.md). */
#include <cjson/cJSON.h>
#include <stdio.h>

void stek_case(const cJSON *c);
void stek_negative(const cJSON *c);
void keyring_case(const cJSON *c);
void keyring_negative(const cJSON *c);
