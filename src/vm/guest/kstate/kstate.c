// SPDX-License-Identifier: MIT
/* The kstate context: BTF, resolved layout, memory access, errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "internal.h"

void kstate_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int kstate_fail(struct kstate *ks, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ks->err, sizeof(ks->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *kstate_errmsg(const struct kstate *ks)
{
	return ks->err[0] ? ks->err : "no error";
}

const struct kstate_layout *kstate_layout(const struct kstate *ks)
{
	return &ks->l;
}

const struct btf *kstate_btf(const struct kstate *ks)
{
	return ks->btf;
}

/* Little-endian load of 1, 2, 4 or 8 bytes, with bitfield extraction. */
uint64_t kf_u64(const void *buf, const struct kfield *f)
{
	const uint8_t *p = (const uint8_t *)buf + f->off;
	uint64_t v = 0;
	unsigned int n = f->size > 8 ? 8 : f->size;

	if (f->bit_size) {
		/* a bitfield may straddle its declared type's boundary */
		n = (f->bit_off + f->bit_size + 7) / 8;
		if (n > 8)
			n = 8;
	}
	memcpy(&v, p, n);
	if (f->bit_size) {
		v >>= f->bit_off;
		if (f->bit_size < 64)
			v &= (1ULL << f->bit_size) - 1;
	}
	return v;
}

/* Sign-extend a value loaded from @f to 64 bits. */
int64_t kf_sext(uint64_t v, const struct kfield *f)
{
	unsigned int bits = f->bit_size ? f->bit_size : f->size * 8;

	if (bits == 0 || bits >= 64)
		return (int64_t)v;
	if (v & (1ULL << (bits - 1)))
		v |= ~0ULL << bits;
	return (int64_t)v;
}

int64_t kf_s64(const void *buf, const struct kfield *f)
{
	return kf_sext(kf_u64(buf, f), f);
}

int kstate_read_field(struct kstate *ks, uint64_t base, const struct kfield *f,
		      uint64_t *val)
{
	uint8_t buf[16] = { 0 };
	struct kfield at0 = *f;
	size_t len = f->size;
	int ret;

	if (f->bit_size)
		len = (f->bit_off + f->bit_size + 7) / 8;
	if (!f->found || len > 8)
		return kstate_fail(ks, -EINVAL, "not a scalar member");
	ret = kstate_read(ks, base + f->off, buf, len);
	if (ret)
		return ret;
	at0.off = 0;
	*val = kf_u64(buf, &at0);
	return 0;
}

int kstate_read_sfield(struct kstate *ks, uint64_t base,
		       const struct kfield *f, int64_t *val)
{
	uint64_t v = 0;
	int ret = kstate_read_field(ks, base, f, &v);

	if (ret)
		return ret;
	*val = kf_sext(v, f);
	return 0;
}

struct kstate *kstate_open(const struct kstate_opts *opts, char *err,
			   size_t errlen)
{
	static const struct kstate_opts defaults;
	struct kstate *ks;

	if (!opts)
		opts = &defaults;
	ks = calloc(1, sizeof(*ks));
	if (!ks) {
		kstate_fmt(err, errlen, "out of memory");
		return NULL;
	}
	ks->kcore_fd = -1;
	for (int i = 0; i < 3; i++)
		ks->gather.fds[i] = -1;
	ks->btf = kbtf_open(opts->btf_path, err, errlen);
	if (!ks->btf)
		goto fail;
	if (kstate_layout_resolve(ks->btf, &ks->l, err, errlen))
		goto fail;
	if (!opts->btf_only && kmem_open(ks, opts)) {
		kstate_fmt(err, errlen, "%s", ks->err);
		goto fail;
	}
	return ks;
fail:
	kstate_close(ks);
	return NULL;
}

void kstate_close(struct kstate *ks)
{
	if (!ks)
		return;
	kstate_gather_close(ks);
	kmem_close(ks);
	btf__free(ks->btf);
	free(ks);
}
