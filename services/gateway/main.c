/* main.c: crm-gateway: the HTTP/JSON API, API keys and integrator ingest; runs until SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_openapi.h"
#include "gateway_server.h"

/* crm-gateway --openapi prints the API's OpenAPI document (kept in the tree as docs/openapi.json). */
static int
s_print_openapi(void)
{
    char *text = NULL;
    if (gateway_openapi_text(&text) != 0)
        return EXIT_FAILURE;
    int ok = fputs(text, stdout) >= 0;
    free(text);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--openapi") == 0)
        return s_print_openapi();
    gateway_server_t *server = NULL;
    if (gateway_server_new(&server) != 0)
        return EXIT_FAILURE;
    int rc = gateway_server_run(server);
    gateway_server_destroy(&server);
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
