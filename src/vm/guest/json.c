// SPDX-License-Identifier: MIT
/* JSON helpers: defaults for absent members, and numbers printed the way the host reads them. */
#include <stdio.h>

#include "util.h"

const char *jstr(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return dflt;
	return json_object_get_string(v);
}

long long jint(struct json_object *o, const char *key, long long dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return dflt;
	return json_object_get_int64(v);
}

int jbool(struct json_object *o, const char *key, int dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return dflt;
	return json_object_get_boolean(v);
}

void jset(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

struct json_object *jhex(uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_object_new_string(buf);
}

struct json_object *jms(double seconds)
{
	char text[32];

	snprintf(text, sizeof(text), "%.3f", seconds * 1e3);
	return json_object_new_double_s(seconds * 1e3, text);
}

struct json_object *jtime(double t)
{
	char text[32];

	snprintf(text, sizeof(text), "%.9f", t);
	return json_object_new_double_s(t, text);
}
