/* main.c: crm-analytics: settings from the environment, start, run until SIGINT or SIGTERM (starting again after a rebuild request), stop. */
#include "crm_service.h"
#include "analytics_server.h"

int main(void)
{
    int rc = 0;
    bool again = true;
    while (again) {
        crm_service_t *svc = NULL;
        if (crm_service_new(CRM_SVC_ANALYTICS, &svc) != 0)
            return 1;
        analytics_server_t *server = NULL;
        rc = analytics_server_new(svc, &server);
        if (rc == 0)
            rc = crm_service_run(svc, NULL, NULL);
        /* A rebuild stops the loop to replay from a fresh start; a signal always ends the process. */
        again = rc == 0 && analytics_server_restart(server) && crm_loop_signal(crm_service_loop(svc)) == 0;
        analytics_server_destroy(&server);
        crm_service_destroy(&svc);
    }
    return rc ? 1 : 0;
}
