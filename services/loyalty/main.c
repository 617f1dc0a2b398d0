/* main.c: crm-loyalty: settings from the environment, start, run until SIGINT or SIGTERM, stop. */
#include "crm_service.h"
#include "loyalty_server.h"

int main(void)
{
    crm_service_t *svc = NULL;
    if (crm_service_new(CRM_SVC_LOYALTY, &svc) != 0)
        return 1;
    loyalty_server_t *server = NULL;
    int rc = loyalty_server_new(svc, &server);
    if (rc == 0)
        rc = crm_service_run(svc, NULL, NULL);
    loyalty_server_destroy(&server);
    crm_service_destroy(&svc);
    return rc ? 1 : 0;
}
