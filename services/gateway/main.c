/* main.c: crm-gateway: the HTTP/JSON API, API keys and integrator ingest; runs until SIGTERM. */
#include <stdlib.h>

#include "gateway_server.h"

int
main(void)
{
    gateway_server_t *server = NULL;
    if (gateway_server_new(&server) != 0)
        return EXIT_FAILURE;
    int rc = gateway_server_run(server);
    gateway_server_destroy(&server);
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
