/* crm_error.c: messages and names of the suite's error codes. */
#include "crm_error.h"

const char *
crm_strerror(int code)
{
    switch (code) {
    case CRM_OK: return "success";
#define CRM_ERRNO_TEXT(name, value, text) case CRM_E##name: return text;
    CRM_ERRNO_MAP(CRM_ERRNO_TEXT)
#undef CRM_ERRNO_TEXT
    default: return "unknown error";
    }
}

const char *
crm_errname(int code)
{
    switch (code) {
    case CRM_OK: return "CRM_OK";
#define CRM_ERRNO_NAME(name, value, text) case CRM_E##name: return "CRM_E" #name;
    CRM_ERRNO_MAP(CRM_ERRNO_NAME)
#undef CRM_ERRNO_NAME
    default: return "CRM_EUNKNOWN";
    }
}
