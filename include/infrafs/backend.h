/* backend: what each data class costs in OpenStack requests.
 *
 * backend_fetch() turns (class, key) into authenticated GETs against the
 * right service (Nova, Keystone), follows pagination, negotiates the Nova
 * microversion once, and returns the parsed JSON for model.c to digest.
 * Every HTTP status is mapped to a typed GError here: 404 -> NOT_FOUND,
 * 401 twice -> AUTH, 403 -> FORBIDDEN, 5xx/429 -> UNAVAILABLE, anything
 * unparsable -> BAD_RESPONSE. Thread-safe; blocks the calling thread. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "infrafs/classes.h"
#include "infrafs/api.h"
#include "infrafs/os_auth.h"

/* The highest Nova microversion whose shapes infrafs understands. */
#define BACKEND_COMPUTE_MAX_MAJOR 2
#define BACKEND_COMPUTE_MAX_MINOR 90

/* The highest Placement microversion infrafs asks for (1.14: in_tree). */
#define BACKEND_PLACEMENT_MAX_MAJOR 1
#define BACKEND_PLACEMENT_MAX_MINOR 39

/* Safety stop for a pagination chain that never ends. */
#define BACKEND_MAX_PAGES 10000

struct backend;

/* `client` and `auth` must outlive the backend. */
struct backend *backend_new(struct api *api, struct os_auth *auth);

/* NetBox at `url` (its base, such as https://netbox.example.org), asked
 * with `token` (may be NULL); both borrowed. Without it, CLASS_NETBOX
 * fetches fail with NOT_FOUND. */
void backend_set_netbox(struct backend *backend, const char *url, const char *token);

/* The first URL the calling thread's last backend_fetch() asked for (NULL
 * if none), so that an answer rejected later can name its request. Valid
 * until the thread's next fetch. */
const char *backend_fetch_request(void);
void backend_free(struct backend *backend);

/* Fetch one data class. `key` is NULL for whole collections, the project
 * id for CLASS_QUOTAS and the hypervisor_hostname for CLASS_SERVERS.
 * Returns (caller-owned):
 *   CLASS_AGGREGATES, CLASS_HOSTS, CLASS_FLAVORS, CLASS_PROJECTS,
 *   CLASS_SERVERS: an array of the API objects, all pages joined (flavors
 *   always carry "extra_specs");
 *   CLASS_QUOTAS: the "quota_set" object of os-quota-sets/<id>/detail;
 *   CLASS_PLACEMENT (key = hypervisor_hostname): {"resource_providers": [the
 *   host's provider tree, each with "inventories" and "usages"]}, with an
 *   empty list when Placement has no provider of that name. */
json_object *backend_fetch(struct backend *backend, enum data_class data_class, const char *key,
			   GError **error);

/* The Nova microversion in use, as "2.NN" (negotiating if not done yet). */
char *backend_compute_microversion(struct backend *backend, GError **error);
