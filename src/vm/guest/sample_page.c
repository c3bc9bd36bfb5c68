// SPDX-License-Identifier: MIT
/* The page sampler: a watched page's struct page, its references and pins, its DAX entry. */
#include <stdio.h>
#include <string.h>

#include "observer_internal.h"
#include "util.h"

static const char *dax_entry_state(const struct watched_page *w, const struct kpage *pg, int *pmd)
{
	struct kdax_result r;

	*pmd = 0;
	if (w->wfile < 0 || !pg->zone_device)
		return "n/a";
	if (kstate_dax_lookup(obs_ks, watched_files[w->wfile].mapping, w->file_index, &r))
		return "n/a";
	if (!r.present)
		return "none";
	*pmd = r.dax.pmd;
	if (r.dax.locked)
		return "locked";
	if (r.dax.empty)
		return "empty";
	if (r.dax.zero_page)
		return "zero";
	return "unlocked";
}

struct json_object *page_json(struct watched_page *w)
{
	struct json_object *o = json_object_new_object(), *flags = json_object_new_array();
	const struct baseline *b;
	struct kpage pg;
	char buf[1024];
	struct kref_model model;
	struct kref_split split;
	int32_t ref;
	int pmd, batched;
	const char *mapping = NULL;

	watch_refresh_pfn(w);
	json_object_object_add(o, "file", json_object_new_string(w->file));
	json_object_object_add(o, "index", json_object_new_int64(w->index));
	json_object_object_add(o, "mapped", json_object_new_boolean(w->mapped));
	json_object_object_add(o, "pfn", jhex(w->pfn));
	if (kstate_page_read(obs_ks, w->pfn, &pg)) {
		json_object_object_add(o, "error", json_object_new_string(kstate_errmsg(obs_ks)));
		memset(&pg, 0, sizeof(pg));
	}
	b = baseline_of(&pg);
	ref = page_ref(&pg);
	/*
	 * A newly faulted anon or page-cache folio waits in a per-CPU LRU batch,
	 * which holds a reference until it is drained onto the LRU (PG_lru then
	 * set). Count that reference apart: it is nobody's pin.
	 */
	batched = !pg.zone_device && pg.mapping_kind != KPAGE_MAP_NONE &&
		  !kstate_page_test(kstate_layout(obs_ks), &pg, "PG_lru");
	/* The mappings' own references (7.x fsdax, anon, page cache) are theirs. */
	model.idle = b->idle;
	model.mappings_hold_refs = b->mappings_hold_refs;
	kpage_split_refs(&pg, &model, batched, &split);
	kstate_pageflags_str(kstate_layout(obs_ks), pg.head_flags, buf, sizeof(buf));
	for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		json_object_array_add(flags, json_object_new_string(tok));
	if (pg.mapping_kind == KPAGE_MAP_ANON) {
		mapping = "anon";
	} else if (pg.mapping_kind == KPAGE_MAP_FILE) {
		int f = watched_file_find(pg.mapping);

		mapping = f >= 0 ? watched_files[f].name : "other file";
	}
	json_object_object_add(o, "addr", jhex(pg.addr));
	json_object_object_add(o, "zoneDevice", json_object_new_boolean(pg.zone_device));
	json_object_object_add(o, "ref", json_object_new_int(ref));
	json_object_object_add(o, "idle", json_object_new_int(b->idle));
	json_object_object_add(o, "baseline", json_object_new_string(baseline_name(&pg)));
	json_object_object_add(o, "aboveIdle", json_object_new_int(split.above_idle));
	json_object_object_add(o, "pins", json_object_new_int(split.pins));
	json_object_object_add(o, "mapcount", json_object_new_int(pg.mapcount));
	json_object_object_add(o, "folioMapcount", json_object_new_int(kpage_folio_mapcount(&pg)));
	json_object_object_add(o, "lruBatch", json_object_new_boolean(batched));
	json_object_object_add(o, "flags", flags);
	json_object_object_add(o, "mapping", mapping ? json_object_new_string(mapping) : NULL);
	json_object_object_add(o, "pageIndex", pg.mapping_kind == KPAGE_MAP_NONE ? NULL : json_object_new_int64(pg.index));
	json_object_object_add(o, "entry", json_object_new_string(dax_entry_state(w, &pg, &pmd)));
	json_object_object_add(o, "pmd", json_object_new_boolean(pmd));
	return o;
}
