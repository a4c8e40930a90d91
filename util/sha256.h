/* SHA-256 (FIPS 180-4), used for the plan's input digests, and HMAC-SHA256
 * for signed webhooks. */
#ifndef ADP_SHA256_H
#define ADP_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct adp_sha256 {
	uint32_t h[8];
	uint64_t total;
	unsigned char block[64];
	size_t used;
};

void adp_sha256_init(struct adp_sha256 *c);
void adp_sha256_update(struct adp_sha256 *c, const void *data, size_t len);
/* The 32-byte digest. */
void adp_sha256_final(struct adp_sha256 *c, unsigned char out[32]);
/* Writes 64 lowercase hex digits and a NUL into hex. */
void adp_sha256_final_hex(struct adp_sha256 *c, char hex[65]);
void adp_sha256_hex(const void *data, size_t len, char hex[65]);
/* HMAC-SHA256 (RFC 2104) of msg under key, as 64 lowercase hex digits. */
void adp_hmac_sha256_hex(const void *key, size_t klen, const void *msg, size_t len, char hex[65]);
/* Hashes a file's contents; ADP_ESYS if it cannot be read. */
int adp_sha256_file(char hex[65], const char *path);

#endif
