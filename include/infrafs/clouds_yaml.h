/* clouds_yaml: the openstack client's clouds.yaml and secure.yaml, read into
 * the credentials of a config. The only user of libyaml.
 *
 * Owns finding the two files, parsing them, the deep merge of secure.yaml
 * over clouds.yaml, choosing the cloud and the precedence between a cloud
 * entry and the OS_* environment. Leaves reading the OS_* credentials to
 * config_load_env() and checking env-only credentials to config_validate(),
 * which run before and after it (main.c).
 *
 * Search order (docs/configuration.md), separately for the clouds file
 * (clouds.yaml, clouds.yml, clouds.json, tried in this order in each
 * directory) and the secure file (secure.yaml, secure.yml, secure.json).
 * The first file found wins; files are never merged across directories:
 *   1. $OS_CLIENT_CONFIG_FILE (resp. $OS_CLIENT_SECURE_FILE), when set: it
 *      must exist;
 *   2. the current directory;
 *   3. $XDG_CONFIG_HOME/openstack, then $HOME/.config/openstack;
 *   4. the first directory of $XDG_CONFIG_DIRS (default /etc/xdg) + /openstack;
 *   5. /etc/openstack.
 * Every variable is read through the caller's getenv function, so tests
 * control every path root but /etc/openstack. */
#pragma once

#include <glib.h>

#include "infrafs/config.h"

/* Choose where the credentials come from and, when it is a cloud entry,
 * replace config->os with it. Call after config_load_env().
 *
 * The cloud is `cloud_name` (--os-cloud; NULL when not given), else
 * $OS_CLOUD, else - when $OS_AUTH_URL is not set - the only cloud of the
 * clouds file. With none of these, config->os stays as the environment made
 * it (and no file is read when $OS_AUTH_URL is set and no cloud is named).
 *
 * A cloud entry replaces every credential the OS_* variables gave, except
 * $OS_REGION_NAME and $OS_CACERT, which apply on top of it (the openstack
 * client's behaviour). Keys read: auth.{auth_url, username, user_id,
 * password, project_name, project_id (old names tenant_name, tenant_id),
 * user_domain_name, user_domain_id, project_domain_name, project_domain_id,
 * domain_name, domain_id, application_credential_id,
 * application_credential_secret}, auth_type, region_name, interface (old
 * name endpoint_type; "publicURL" means "public"), cacert (made absolute
 * against the current directory), verify and insecure. Other keys are
 * ignored.
 *
 * `cwd` is the current directory to search and to resolve relative paths
 * against; NULL means the process's. `getenv_fn` is g_getenv in the daemon.
 *
 * Fails with INFRAFS_ERROR_CONFIG, leaving config unchanged, when a file
 * cannot be read or parsed, a value has the wrong type, the cloud is not in
 * the file (the message lists the clouds there), several clouds are there
 * and none is chosen, or the entry lacks a credential. Messages name the
 * file, with line and column where there is one, and the key
 * ("clouds.prod.auth"). Logs with g_info which source won and which files
 * were read; never a secret. Values read are wiped from memory when freed. */
gboolean clouds_yaml_apply(struct config *config, const char *cloud_name, const char *cwd,
			   const char *(*getenv_fn)(const char *name), GError **error);
