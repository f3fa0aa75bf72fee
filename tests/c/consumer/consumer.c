/* Links libatsreuse and calls it: a version string and one pure function with a known answer
 * shape, so a broken link or a wrong header fails here. */
#include <stdio.h>
#include <string.h>

#include <atsreuse.h>

int
main(void)
{
  static const uint8_t psk[] = "consumer-test-psk\n";
  char password[65];
  atsreuse_status st = atsreuse_redis_password(psk, sizeof psk - 1, "pod", password, sizeof password);
  if (st != ATSREUSE_STATUS_OK || strlen(password) != 64) {
    fprintf(stderr, "consumer: redis password: %s\n", atsreuse_status_str(st));
    return 1;
  }
  printf("consumer: libatsreuse %s linked and working\n", atsreuse_version());
  return 0;
}
