/* main.c: crm-feedback: settings from the environment, start, run until SIGINT or SIGTERM, stop. */
#include "crm_service.h"
#include "feedback_server.h"

int main(void)
{
    crm_service_t *svc = NULL;
    if (crm_service_new(CRM_SVC_FEEDBACK, &svc) != 0)
        return 1;
    feedback_server_t *server = NULL;
    int rc = feedback_server_new(svc, &server);
    if (rc == 0)
        rc = crm_service_run(svc, NULL, NULL);
    feedback_server_destroy(&server);
    crm_service_destroy(&svc);
    return rc ? 1 : 0;
}
