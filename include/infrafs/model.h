/* model: the backend's JSON digested into immutable snapshots.
 *
 * A model is built once from a backend_fetch() result by one thread, then
 * published through the cache and only read, by any number of threads, for
 * as long as someone holds the cache value. It keeps no json_object: every
 * JSON file is rendered into GBytes while building (json-c objects are not
 * thread-safe), and names are already encoded for the file system. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "infrafs/classes.h"

/* One named object of a collection, with its unique file name. */
struct model_item {
	char *name;        /* as the backend has it (NULL when it had none) */
	char *file_name;   /* names_encode_unique() of name */
	char *id;          /* the backend id, as text */
	GBytes *json;      /* the API object, pretty-printed */
	guint64 json_hash; /* model_hash_bytes(json): its version, computed once */
};

/* A sorted set of values keyed by encoded file name (metadata, extra specs). */
struct model_values {
	GPtrArray *keys;         /* char* file names, sorted; owned */
	GHashTable *values;      /* file name -> char* value; owned */
};

struct model_aggregate {
	struct model_item item;
	char *availability_zone;     /* NULL when null */
	GPtrArray *hosts;            /* char* service host names, as listed */
	struct model_values metadata;
};

struct model_host {
	struct model_item item;      /* name = hypervisor_hostname */
	char *service_host;          /* service.host, or NULL */
	char *state;                 /* "up" / "down" */
	char *status;                /* "enabled" / "disabled" */
};

struct model_flavor {
	struct model_item item;
	struct model_values extra_specs;
};

struct model_project {
	struct model_item item;
};

/* A collection: its items sorted by file name and an index on it. */
struct model_collection {
	enum data_class data_class;
	GPtrArray *items;            /* struct model_* (first member: model_item); owned */
	GHashTable *by_file_name;    /* file name -> item; borrowed */
	GBytes *json;                /* the whole collection as a JSON array */
	guint64 json_hash;
	/* Hosts: service host -> host, only for names that are not also a
	 * host's own file name and that belong to a single hypervisor. */
	GHashTable *by_service_host;
	/* Aggregates: service host -> GPtrArray of aggregates (borrowed). */
	GHashTable *aggregates_by_host;
};

/* A single document: a quota set, one host's servers, or one host's
 * Placement provider tree. */
struct model_document {
	enum data_class data_class;
	GBytes *json;                /* compute.json / servers.json / inventory.json */
	guint64 json_hash;
	GBytes *table;               /* quotas: "resource limit in_use reserved" lines */
	guint64 table_hash;
	GHashTable *capacities;      /* Placement: resource class -> gint64 capacity
				      * over the provider tree (owned); else NULL */
};

/* What the cache holds for any class: exactly one of the two is set. */
struct model {
	struct model_collection *collection;
	struct model_document *document;
	gsize size_bytes;            /* approximate memory held */
	guint64 content_hash;        /* the collection's or document's json_hash */
};

/* Digest a backend_fetch() result for `data_class`. Consumes nothing: `json`
 * stays the caller's. Fails with INFRAFS_ERROR_BAD_RESPONSE when the JSON
 * has the wrong shape. */
struct model *model_build(enum data_class data_class, json_object *json, GError **error);
void model_free(struct model *model);

/* A 64-bit FNV-1a hash of `bytes`, continuing from `seed` (0 to start). */
guint64 model_hash_bytes(GBytes *bytes, guint64 seed);

/* A collection's item by file name, or NULL. */
gconstpointer model_find(const struct model_collection *collection, const char *file_name);

/* Hosts: the host for a file name or, failing that, a service host name. */
const struct model_host *model_find_host(const struct model_collection *hosts,
					 const char *file_name);

/* Aggregates that list `service_host` (may be NULL). Borrowed. */
const GPtrArray *model_aggregates_of_host(const struct model_collection *aggregates,
					  const char *service_host);
