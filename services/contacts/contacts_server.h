/* contacts_server.h: wires the contacts handlers into the service skeleton: settings, requests, the ingest subscription. */
#ifndef CONTACTS_SERVER_H
#define CONTACTS_SERVER_H

#include "crm_config.h"
#include "crm_service.h"
#include "contacts_handlers.h"
#include "contacts_record.h"

/* Settings of the contacts service, with their defaults in contacts_record.h. */
#define CONTACTS_SETTING_REPEAT_PURCHASES "CRM_CONTACTS_REPEAT_PURCHASES"
#define CONTACTS_SETTING_LOYAL_PURCHASES  "CRM_CONTACTS_LOYAL_PURCHASES"
#define CONTACTS_SETTINGS_ERROR_MAX       256

typedef struct contacts_server contacts_server_t;

/* Reads the contacts settings from cfg into *settings. Returns 0, or CRM_ECONFIG with the reason
 * (naming the variable) in error (size bytes). */
int contacts_settings_load(crm_config_t *cfg, contacts_settings_t *settings, char *error, size_t size);

/* Reads the settings, makes the handlers over the service's store, outbox and ids, answers the
 * service's requests with them and applies the gateway's "crm.ingest." events. Call after
 * crm_service_new and before crm_service_run. Returns 0 and sets *server_p (caller destroys,
 * after crm_service_run returns), CRM_ECONFIG (logged) or the error of a part (logged). */
int contacts_server_new(crm_service_t *svc, contacts_server_t **server_p);

/* Frees the server. Safe on NULL; sets *server_p to NULL. */
void contacts_server_destroy(contacts_server_t **server_p);

/* The handlers (borrowed). */
contacts_t *contacts_server_handlers(contacts_server_t *server);

#endif
