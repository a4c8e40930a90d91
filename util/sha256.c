#include "util/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/error.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress(struct adp_sha256 *c, const unsigned char *p)
{
	uint32_t w[64], a, b, d, e, f, g, h, cc, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
	e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
		h = g; g = f; f = e; e = d + t1;
		d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
	c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

void adp_sha256_init(struct adp_sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	memcpy(c->h, iv, sizeof(iv));
	c->total = 0;
	c->used = 0;
}

void adp_sha256_update(struct adp_sha256 *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	c->total += len;
	while (len) {
		size_t n = 64 - c->used;
		if (n > len)
			n = len;
		memcpy(c->block + c->used, p, n);
		c->used += n;
		p += n;
		len -= n;
		if (c->used == 64) {
			compress(c, c->block);
			c->used = 0;
		}
	}
}

void adp_sha256_final(struct adp_sha256 *c, unsigned char out[32])
{
	uint64_t bits = c->total * 8;
	unsigned char pad = 0x80, len[8];
	int i;

	adp_sha256_update(c, &pad, 1);
	pad = 0;
	while (c->used != 56)
		adp_sha256_update(c, &pad, 1);
	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	adp_sha256_update(c, len, 8);
	for (i = 0; i < 32; i++)
		out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * n] = '\0';
}

void adp_sha256_final_hex(struct adp_sha256 *c, char hex[65])
{
	unsigned char d[32];

	adp_sha256_final(c, d);
	to_hex(d, 32, hex);
}

/* RFC 2104 with SHA-256: a key longer than the block is hashed first. */
void adp_hmac_sha256_hex(const void *key, size_t klen, const void *msg, size_t len, char hex[65])
{
	unsigned char k[64] = { 0 }, pad[64], inner[32], mac[32];
	struct adp_sha256 c;
	size_t i;

	if (klen > 64) {
		adp_sha256_init(&c);
		adp_sha256_update(&c, key, klen);
		adp_sha256_final(&c, k);
	} else if (klen) {
		memcpy(k, key, klen);
	}
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	adp_sha256_init(&c);
	adp_sha256_update(&c, pad, 64);
	adp_sha256_update(&c, msg, len);
	adp_sha256_final(&c, inner);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	adp_sha256_init(&c);
	adp_sha256_update(&c, pad, 64);
	adp_sha256_update(&c, inner, 32);
	adp_sha256_final(&c, mac);
	to_hex(mac, 32, hex);
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
}

void adp_sha256_hex(const void *data, size_t len, char hex[65])
{
	struct adp_sha256 c;

	adp_sha256_init(&c);
	adp_sha256_update(&c, data, len);
	adp_sha256_final_hex(&c, hex);
}

/* Files are hashed by OpenSSL's libcrypto, which uses the processor's
 * SHA instructions where it has them: at fleet scale the inputs are
 * hundreds of megabytes, and that is several times faster than the
 * portable code above (which stays for the small in-memory digests, and
 * gives the same digest). */
int adp_sha256_file(char hex[65], const char *path)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char chunk[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	size_t n;
	FILE *f;
	int rc = 0;

	if (!(ctx = EVP_MD_CTX_new()))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return adp_error_set(ADP_ENOMEM, "cannot start a SHA-256 digest");
	}
	if (!(f = fopen(path, "rb"))) {
		EVP_MD_CTX_free(ctx);
		return adp_error_set(ADP_ESYS, "cannot open '%s': %s", path, strerror(errno));
	}
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (!EVP_DigestUpdate(ctx, chunk, n))
			rc = adp_error_set(ADP_ENOMEM, "cannot hash '%s'", path);
	if (!rc && ferror(f))
		rc = adp_error_set(ADP_ESYS, "cannot read '%s': %s", path, strerror(errno));
	fclose(f);
	if (!rc && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32))
		rc = adp_error_set(ADP_ENOMEM, "cannot hash '%s'", path);
	EVP_MD_CTX_free(ctx);
	if (rc)
		return rc;
	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	return 0;
}
