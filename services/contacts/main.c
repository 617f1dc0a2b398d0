/* main.c: crm-contacts: customers, their interactions and purchases, over requests and the ingest log. */
#include <stdlib.h>

#include "crm_service.h"
#include "contacts_server.h"

/* Settings come from the environment only (see README.md); stops on SIGINT or SIGTERM. */
int
main(void)
{
    crm_service_t *svc = NULL;
    contacts_server_t *server = NULL;
    int rc = crm_service_new(CRM_SVC_CONTACTS, &svc);
    if (rc == 0)
        rc = contacts_server_new(svc, &server);
    if (rc == 0)
        rc = crm_service_run(svc, NULL, NULL);
    contacts_server_destroy(&server);
    crm_service_destroy(&svc);
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
