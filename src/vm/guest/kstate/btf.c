// SPDX-License-Identifier: MIT
/*
 * BTF lookups: struct member offsets by dotted path, struct sizes and enum
 * values.  Slow (linear scans), so the readers call them once, through
 * kstate_layout_resolve(), and keep the results.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "internal.h"

#define VMLINUX_BTF	"/sys/kernel/btf/vmlinux"
#define KBTF_MAX_NAME	128

struct btf *kbtf_open(const char *path, char *err, size_t errlen)
{
	struct btf *btf;

	if (!path) {
		if (access(VMLINUX_BTF, R_OK)) {
			kstate_fmt(err, errlen,
				   "kernel has no BTF (CONFIG_DEBUG_INFO_BTF): %s: %s",
				   VMLINUX_BTF, strerror(errno));
			return NULL;
		}
		path = VMLINUX_BTF;
	}
	/* btf__parse() takes both raw BTF and an ELF vmlinux with .BTF */
	btf = btf__parse(path, NULL);
	if (!btf)
		kstate_fmt(err, errlen, "cannot load BTF from %s: %s", path,
			   strerror(errno));
	return btf;
}

/* A struct or union by name; 0 when absent. */
static int find_composite(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	if (id <= 0)
		id = btf__find_by_name_kind(btf, name, BTF_KIND_UNION);
	return id > 0 ? id : 0;
}

/* Skip typedefs and const/volatile; NULL if that leaves no type. */
static const struct btf_type *resolved(const struct btf *btf, __u32 id,
				       __u32 *out_id)
{
	int rid = btf__resolve_type(btf, id);

	if (rid < 0)
		return NULL;
	if (out_id)
		*out_id = rid;
	return btf__type_by_id(btf, rid);
}

/*
 * Find member @name in composite @t, descending into anonymous structs and
 * unions.  Adds the member's bit offset to *bit_off.
 */
static bool find_member(const struct btf *btf, const struct btf_type *t,
			const char *name, __u32 *bit_off, __u32 *type_id,
			__u32 *bf_size)
{
	const struct btf_member *m = btf_members(t);
	int i, n = btf_vlen(t);

	for (i = 0; i < n; i++, m++) {
		const char *mname = btf__name_by_offset(btf, m->name_off);
		__u32 off = btf_member_bit_offset(t, i);
		const struct btf_type *mt;

		if (mname && *mname) {
			if (strcmp(mname, name))
				continue;
			*bit_off += off;
			*type_id = m->type;
			*bf_size = btf_member_bitfield_size(t, i);
			return true;
		}
		mt = resolved(btf, m->type, NULL);
		if (!mt || !btf_is_composite(mt))
			continue;
		if (find_member(btf, mt, name, bit_off, type_id, bf_size)) {
			*bit_off += off;
			return true;
		}
	}
	return false;
}

/* Copy the next dotted component of *path into @out; false at the end. */
static bool next_component(const char **path, char *out, size_t len)
{
	const char *p = *path, *dot;
	size_t n;

	if (!*p)
		return false;
	dot = strchr(p, '.');
	n = dot ? (size_t)(dot - p) : strlen(p);
	if (n == 0 || n >= len)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	*path = dot ? dot + 1 : p + n;
	return true;
}

int kbtf_member(const struct btf *btf, const char *path, struct kfield *f)
{
	char name[KBTF_MAX_NAME];
	const struct btf_type *t;
	__u32 id, bit_off = 0, bf_size = 0;
	bool any = false;
	__s64 size;

	memset(f, 0, sizeof(*f));
	if (!next_component(&path, name, sizeof(name)))
		return -EINVAL;
	id = find_composite(btf, name);
	if (!id)
		return -ENOENT;
	while (next_component(&path, name, sizeof(name))) {
		t = resolved(btf, id, &id);
		/* bitfields have no members to descend into */
		if (!t || !btf_is_composite(t) || bf_size)
			return -ENOENT;
		if (!find_member(btf, t, name, &bit_off, &id, &bf_size))
			return -ENOENT;
		any = true;
	}
	if (!any || *path)
		return -EINVAL;
	size = btf__resolve_size(btf, id);
	if (size < 0)
		return -ENOENT;
	f->off = bit_off / 8;
	f->size = size;
	if (bf_size) {
		f->bit_off = bit_off % 8;
		f->bit_size = bf_size;
	}
	f->found = true;
	return 0;
}

int64_t kbtf_struct_size(const struct btf *btf, const char *name)
{
	int id = find_composite(btf, name);

	if (!id)
		return -ENOENT;
	return btf__resolve_size(btf, id);
}

/* Look @name up in one enum type. */
static bool enum_lookup(const struct btf *btf, const struct btf_type *t,
			const char *name, int64_t *val)
{
	int i, n = btf_vlen(t);

	for (i = 0; i < n; i++) {
		const struct btf_enum *e;
		const struct btf_enum64 *e64;

		if (btf_is_enum(t)) {
			e = btf_enum(t) + i;
			if (strcmp(btf__name_by_offset(btf, e->name_off), name))
				continue;
			*val = e->val;
		} else {
			e64 = btf_enum64(t) + i;
			if (strcmp(btf__name_by_offset(btf, e64->name_off), name))
				continue;
			*val = (int64_t)btf_enum64_value(e64);
		}
		return true;
	}
	return false;
}

int kbtf_enum_value(const struct btf *btf, const char *enum_name,
		    const char *name, int64_t *val)
{
	__u32 i, n = btf__type_cnt(btf);

	for (i = 1; i < n; i++) {
		const struct btf_type *t = btf__type_by_id(btf, i);

		if (!btf_is_any_enum(t))
			continue;
		if (enum_name &&
		    strcmp(btf__name_by_offset(btf, t->name_off), enum_name))
			continue;
		if (enum_lookup(btf, t, name, val))
			return 0;
	}
	return -ENOENT;
}
