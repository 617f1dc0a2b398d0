/* main.c: crm-notifier: settings from the environment, start, run until SIGINT or SIGTERM, stop. */
#include "crm_service.h"
#include "notifier_server.h"

int main(void)
{
    crm_service_t *svc = NULL;
    if (crm_service_new(CRM_SVC_NOTIFIER, &svc) != 0)
        return 1;
    notifier_server_t *server = NULL;
    int rc = notifier_server_new(svc, &server);
    if (rc == 0)
        rc = crm_service_run(svc, NULL, NULL);
    notifier_server_destroy(&server);
    crm_service_destroy(&svc);
    return rc ? 1 : 0;
}
