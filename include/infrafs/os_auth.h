/* os_auth: Keystone v3 tokens and the service catalog.
 *
 * Holds one project-scoped token (password or application credential) and
 * its catalog. A token is reused until shortly before it expires; a caller
 * that sees a 401 reports it with os_auth_reject() and asks again, and only
 * one thread re-authenticates while the others wait for its result.
 * Thread-safe. The token is a secret: log only log_mask_secret() of it. */
#pragma once

#include <glib.h>

#include "infrafs/config.h"
#include "infrafs/api.h"

/* A token this close to expiry is replaced before use (keystoneauth's rule),
 * or a tenth of its lifetime before, for tokens that live under 20 minutes. */
#define OS_AUTH_REFRESH_MARGIN_S 120

struct os_auth;

/* `client` and `credentials` must outlive the returned object. */
struct os_auth *os_auth_new(struct api *api, const struct os_credentials *credentials);
void os_auth_free(struct os_auth *auth);

/* A valid token (a copy; free with g_free), authenticating if needed.
 * Fails with INFRAFS_ERROR_AUTH when Keystone refuses the credentials. */
char *os_auth_token(struct os_auth *auth, GError **error);

/* The service answered 401 to `token`: forget it unless it was already
 * replaced. */
void os_auth_reject(struct os_auth *auth, const char *token);

/* The endpoint URL of `service_type` ("compute", "placement", "identity")
 * for the configured interface and region, without a trailing slash.
 * Authenticates if there is no catalog yet. Free with g_free. */
char *os_auth_endpoint(struct os_auth *auth, const char *service_type, GError **error);

/* The id of the project the token is scoped to. Free with g_free. */
char *os_auth_project_id(struct os_auth *auth, GError **error);
