/*
 * A terminal program written against SSCardDriver.h and linked with -lSSCardDriver, as an
 * integrator's would be. It reads one call per line from stdin:
 *     FUNCTION<TAB>ARG<TAB>ARG...      (ints in decimal, strings as hex of their GBK bytes)
 * calls the function with a pOutInfo of the size the header promises (plus a canary it checks),
 * and prints one line:  CODE<TAB>HEX-OF-pOutInfo
 * Used by tests/pcsc_driver.rs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "SSCardDriver.h"

#define MAX_ARGS 4
#define LINE_MAX_LEN 65536
#define CANARY 0xA5
#define CANARY_LEN 64

static char *unhex(const char *hex) {
    size_t n = strlen(hex) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned int byte;
        sscanf(hex + 2 * i, "%2x", &byte);
        out[i] = (char)byte;
    }
    out[n] = 0;
    return out;
}

static size_t capacity_of(const char *name) {
    if (strcmp(name, "iReadCard") == 0) return SSCARD_OUT_READ;
    if (strcmp(name, "iReadDebitRecord") == 0) return SSCARD_OUT_RECORDS;
    if (strstr(name, "_HSM_Step") != NULL || strcmp(name, "iReadCardBas") == 0) return SSCARD_OUT_BAS;
    return SSCARD_OUT_PIN;
}

int main(void) {
    static char line[LINE_MAX_LEN];
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = 0;
        char *fields[MAX_ARGS + 1] = {0};
        int count = 0;
        for (char *f = strtok(line, "\t"); f != NULL && count <= MAX_ARGS; f = strtok(NULL, "\t")) {
            fields[count++] = f;
        }
        if (count == 0) continue;
        const char *name = fields[0];
        size_t capacity = capacity_of(name);
        unsigned char *out = malloc(capacity + CANARY_LEN);
        memset(out, CANARY, capacity + CANARY_LEN);
        char *o = (char *)out;
        int n[MAX_ARGS] = {0};
        char *s[MAX_ARGS] = {0};
        for (int i = 1; i < count; i++) {
            n[i - 1] = atoi(fields[i]);
            s[i - 1] = unhex(fields[i]);
        }
        long code;
        if (strcmp(name, "iReadCardBas") == 0) code = iReadCardBas(n[0], o);
        else if (strcmp(name, "iReadCard") == 0) code = iReadCard(n[0], n[1], s[2], s[3], o);
        else if (strcmp(name, "iWriteCard") == 0) code = iWriteCard(n[0], s[1], s[2], s[3], o);
        else if (strcmp(name, "iVerifyPIN") == 0) code = iVerifyPIN(n[0], o);
        else if (strcmp(name, "iChangePIN") == 0) code = iChangePIN(n[0], o);
        else if (strcmp(name, "iReloadPIN") == 0) code = iReloadPIN(n[0], s[1], o);
        else if (strcmp(name, "iUnblockPIN") == 0) code = iUnblockPIN(n[0], s[1], o);
        else if (strcmp(name, "iDoDebit") == 0) code = iDoDebit(n[0], s[1], s[2], o);
        else if (strcmp(name, "iReadDebitRecord") == 0) code = iReadDebitRecord(n[0], o);
        else if (strcmp(name, "iReadCardBas_HSM_Step1") == 0) code = iReadCardBas_HSM_Step1(n[0], o);
        else if (strcmp(name, "iReadCardBas_HSM_Step2") == 0) code = iReadCardBas_HSM_Step2(s[0], o);
        else if (strcmp(name, "iReadCard_HSM_Step1") == 0) code = iReadCard_HSM_Step1(n[0], s[1], s[2], o);
        else if (strcmp(name, "iReadCard_HSM_Step2") == 0) code = iReadCard_HSM_Step2(s[0], o);
        else if (strcmp(name, "iWriteCard_HSM_Step1") == 0) code = iWriteCard_HSM_Step1(n[0], s[1], s[2], o);
        else if (strcmp(name, "iWriteCard_HSM_Step2") == 0) code = iWriteCard_HSM_Step2(s[0], s[1], o);
        else if (strcmp(name, "iReloadPIN_HSM_Step1") == 0) code = iReloadPIN_HSM_Step1(n[0], s[1], o);
        else if (strcmp(name, "iReloadPIN_HSM_Step2") == 0) code = iReloadPIN_HSM_Step2(s[0], o);
        else if (strcmp(name, "iReloadPIN_HSM_Step3") == 0) code = iReloadPIN_HSM_Step3(s[0], o);
        else if (strcmp(name, "iUnblockPIN_HSM_Step1") == 0) code = iUnblockPIN_HSM_Step1(n[0], s[1], o);
        else if (strcmp(name, "iUnblockPIN_HSM_Step2") == 0) code = iUnblockPIN_HSM_Step2(s[0], o);
        else if (strcmp(name, "iUnblockPIN_HSM_Step3") == 0) code = iUnblockPIN_HSM_Step3(s[0], o);
        else if (strcmp(name, "iDoDebit_HSM_Step1") == 0) code = iDoDebit_HSM_Step1(n[0], s[1], s[2], o);
        else if (strcmp(name, "iDoDebit_HSM_Step2") == 0) code = iDoDebit_HSM_Step2(s[0], o);
        else { fprintf(stderr, "unknown function %s\n", name); return 2; }
        for (size_t i = capacity; i < capacity + CANARY_LEN; i++) {
            if (out[i] != CANARY) { fprintf(stderr, "%s wrote past its buffer\n", name); return 3; }
        }
        if (memchr(out, 0, capacity) == NULL) { fprintf(stderr, "%s left no NUL\n", name); return 3; }
        printf("%ld\t", code);
        for (const unsigned char *p = out; *p != 0; p++) printf("%02X", *p);
        printf("\n");
        fflush(stdout);
        for (int i = 0; i < MAX_ARGS; i++) free(s[i]);
        free(out);
    }
    return 0;
}
