/*
 * A line-oriented peer around wolfSSL's ECCSI (RFC 6507) and SAKKE (RFC 6508) for Conclave's
 * interoperability tests and benches.
 *
 * One command per line on stdin, arguments as hex; one reply per line on stdout:
 * "ok <hex> ..." or "err <command> <wolfSSL error code>". Points are 0x04 || x || y.
 *
 *   eccsi-keygen                          -> ok KSAK KPAK
 *   eccsi-issue KSAK KPAK ID              -> ok SSK PVT
 *   eccsi-sign KPAK ID SSK PVT MSG        -> ok SIG          (validates SSK/PVT first)
 *   eccsi-verify KPAK ID MSG SIG          -> ok 01 | ok 00
 *   sakke-keygen                          -> ok z Z
 *   sakke-rsk z Z ID                      -> ok RSK
 *   sakke-validate Z ID RSK               -> ok 01 | ok 00
 *   sakke-encap Z ID [SSV]                -> ok SSV SED      (wolfSSL draws the SSV if absent)
 *   sakke-derive Z ID RSK SED [table]     -> ok SSV          ("table": with its RSK table)
 *   time OP N ARGS...                     -> ok NANOSECONDS  (mean of N runs of OP's core)
 *
 * Timed operations: sakke-encap Z ID SSV, sakke-derive Z ID RSK SED [table],
 * sakke-validate Z ID RSK, eccsi-sign KPAK ID SSK PVT MSG, eccsi-verify KPAK ID MSG SIG.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/eccsi.h>
#include <wolfssl/wolfcrypt/sakke.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ARGS 8
#define MAX_BYTES 4096
#define SAKKE_N 128
#define SAKKE_POINT (2 * SAKKE_N + 1)
#define SSV_LEN 16
#define ECCSI_N 32
#define ECCSI_POINT (2 * ECCSI_N + 1)

typedef struct {
    byte data[MAX_BYTES];
    word32 len;
} Bytes;

static WC_RNG rng;

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses hex into out; returns 0 on success. */
static int from_hex(const char* hex, Bytes* out)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > MAX_BYTES) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out->data[i] = (byte)(hi * 16 + lo);
    }
    out->len = (word32)(n / 2);
    return 0;
}

static void put_hex(const byte* data, word32 len)
{
    putchar(' ');
    for (word32 i = 0; i < len; i++) printf("%02x", data[i]);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- ECCSI ---------------------------------------------------------------------------- */

static int eccsi_keygen(void)
{
    EccsiKey key;
    byte out[3 * ECCSI_N], kpak[ECCSI_POINT];
    word32 sz = sizeof(out), kpakSz = sizeof(kpak);
    int err = wc_InitEccsiKey(&key, NULL, INVALID_DEVID);
    if (err == 0) err = wc_MakeEccsiKey(&key, &rng);
    if (err == 0) err = wc_ExportEccsiPrivateKey(&key, out, &sz);
    if (err == 0) err = wc_ExportEccsiPublicKey(&key, kpak, &kpakSz, 0);
    if (err == 0) {
        printf("ok");
        put_hex(out, sz);
        put_hex(kpak, kpakSz);
        printf("\n");
    }
    wc_FreeEccsiKey(&key);
    return err;
}

/* Loads KSAK || KPAK (KPAK as 0x04 || x || y) into a KMS key. */
static int eccsi_load_kms(EccsiKey* key, const Bytes* ksak, const Bytes* kpak)
{
    byte both[3 * ECCSI_N];
    if (ksak->len != ECCSI_N || kpak->len != ECCSI_POINT) return BAD_FUNC_ARG;
    memcpy(both, ksak->data, ECCSI_N);
    memcpy(both + ECCSI_N, kpak->data + 1, 2 * ECCSI_N);
    return wc_ImportEccsiKey(key, both, sizeof(both));
}

static int eccsi_issue(const Bytes* ksak, const Bytes* kpak, const Bytes* id)
{
    EccsiKey key;
    mp_int ssk;
    ecc_point* pvt = wc_ecc_new_point();
    byte sskOut[ECCSI_N], pvtOut[ECCSI_POINT];
    word32 sskSz = sizeof(sskOut), pvtSz = sizeof(pvtOut);
    int err = pvt == NULL ? MEMORY_E : mp_init(&ssk);
    if (err == 0) err = wc_InitEccsiKey(&key, NULL, INVALID_DEVID);
    if (err == 0) err = eccsi_load_kms(&key, ksak, kpak);
    if (err == 0) err = wc_MakeEccsiPair(&key, &rng, WC_HASH_TYPE_SHA256, id->data, id->len, &ssk, pvt);
    if (err == 0) err = wc_EncodeEccsiSsk(&key, &ssk, sskOut, &sskSz);
    if (err == 0) err = wc_EncodeEccsiPvt(&key, pvt, pvtOut, &pvtSz, 0);
    if (err == 0) {
        printf("ok");
        put_hex(sskOut, sskSz);
        put_hex(pvtOut, pvtSz);
        printf("\n");
    }
    wc_FreeEccsiKey(&key);
    mp_free(&ssk);
    wc_ecc_del_point(pvt);
    return err;
}

/* A signer's key: KPAK imported, the (SSK, PVT) pair validated and set, HS set. */
static int eccsi_load_signer(EccsiKey* key, mp_int* ssk, ecc_point* pvt, const Bytes* kpak,
        const Bytes* id, const Bytes* sskIn, const Bytes* pvtIn)
{
    byte hs[WC_MAX_DIGEST_SIZE];
    byte hsSz = sizeof(hs);
    int valid = 0;
    int err = wc_InitEccsiKey(key, NULL, INVALID_DEVID);
    if (err == 0) err = wc_ImportEccsiPublicKey(key, kpak->data, kpak->len, 0);
    if (err == 0) err = wc_DecodeEccsiSsk(key, sskIn->data, sskIn->len, ssk);
    if (err == 0) err = wc_DecodeEccsiPvt(key, pvtIn->data, pvtIn->len, pvt);
    if (err == 0) err = wc_ValidateEccsiPair(key, WC_HASH_TYPE_SHA256, id->data, id->len, ssk, pvt, &valid);
    if (err == 0 && !valid) err = SIG_VERIFY_E;
    if (err == 0) err = wc_SetEccsiPair(key, ssk, pvt);
    if (err == 0) err = wc_HashEccsiId(key, WC_HASH_TYPE_SHA256, id->data, id->len, pvt, hs, &hsSz);
    if (err == 0) err = wc_SetEccsiHash(key, hs, hsSz);
    return err;
}

static int eccsi_sign_once(EccsiKey* key, const Bytes* msg, byte* sig, word32* sigSz)
{
    return wc_SignEccsiHash(key, &rng, WC_HASH_TYPE_SHA256, msg->data, msg->len, sig, sigSz);
}

/* A verifier's key for one signature: KPAK imported, HS of the signature's PVT set. */
static int eccsi_load_verifier(EccsiKey* key, ecc_point* pvt, const Bytes* kpak, const Bytes* id,
        const Bytes* sig)
{
    byte hs[WC_MAX_DIGEST_SIZE];
    byte hsSz = sizeof(hs);
    int err = wc_InitEccsiKey(key, NULL, INVALID_DEVID);
    if (err == 0) err = wc_ImportEccsiPublicKey(key, kpak->data, kpak->len, 0);
    if (err == 0) err = wc_DecodeEccsiPvtFromSig(key, sig->data, sig->len, pvt);
    if (err == 0) err = wc_HashEccsiId(key, WC_HASH_TYPE_SHA256, id->data, id->len, pvt, hs, &hsSz);
    if (err == 0) err = wc_SetEccsiHash(key, hs, hsSz);
    return err;
}

static int eccsi_sign(const Bytes* a[], int timed, long iters)
{
    EccsiKey key;
    mp_int ssk;
    ecc_point* pvt = wc_ecc_new_point();
    byte sig[2 * ECCSI_N + ECCSI_POINT];
    word32 sigSz = sizeof(sig);
    int err = pvt == NULL ? MEMORY_E : mp_init(&ssk);
    if (err == 0) err = eccsi_load_signer(&key, &ssk, pvt, a[0], a[1], a[2], a[3]);
    if (err == 0 && timed) {
        double start = now_ns();
        for (long i = 0; err == 0 && i < iters; i++) {
            sigSz = sizeof(sig);
            err = eccsi_sign_once(&key, a[4], sig, &sigSz);
        }
        if (err == 0) printf("ok %.0f\n", (now_ns() - start) / (double)iters);
    }
    else if (err == 0) {
        err = eccsi_sign_once(&key, a[4], sig, &sigSz);
        if (err == 0) {
            printf("ok");
            put_hex(sig, sigSz);
            printf("\n");
        }
    }
    wc_FreeEccsiKey(&key);
    mp_free(&ssk);
    wc_ecc_del_point(pvt);
    return err;
}

static int eccsi_verify(const Bytes* a[], int timed, long iters)
{
    EccsiKey key;
    ecc_point* pvt = wc_ecc_new_point();
    int verified = 0;
    int err = pvt == NULL ? MEMORY_E : 0;
    if (err == 0) err = eccsi_load_verifier(&key, pvt, a[0], a[1], a[3]);
    if (err == 0 && timed) {
        double start = now_ns();
        for (long i = 0; err == 0 && i < iters; i++) {
            err = wc_VerifyEccsiHash(&key, WC_HASH_TYPE_SHA256, a[2]->data, a[2]->len,
                    a[3]->data, a[3]->len, &verified);
        }
        if (err == 0) printf("ok %.0f\n", (now_ns() - start) / (double)iters);
    }
    else if (err == 0) {
        err = wc_VerifyEccsiHash(&key, WC_HASH_TYPE_SHA256, a[2]->data, a[2]->len, a[3]->data,
                a[3]->len, &verified);
        if (err == 0) printf("ok %s\n", verified ? "01" : "00");
    }
    else if (pvt != NULL) {
        /* A PVT that does not decode is a rejected signature, not a peer failure. */
        printf("ok 00\n");
        err = 0;
    }
    wc_FreeEccsiKey(&key);
    wc_ecc_del_point(pvt);
    return err;
}

/* ---- SAKKE ---------------------------------------------------------------------------- */

static int sakke_keygen(void)
{
    SakkeKey key;
    byte z[SAKKE_N], pub[SAKKE_POINT];
    word32 zSz = sizeof(z), pubSz = sizeof(pub);
    int err = wc_InitSakkeKey(&key, NULL, INVALID_DEVID);
    if (err == 0) err = wc_MakeSakkeKey(&key, &rng);
    if (err == 0) err = wc_ExportSakkePrivateKey(&key, z, &zSz);
    if (err == 0) err = wc_ExportSakkePublicKey(&key, pub, &pubSz, 0);
    if (err == 0) {
        printf("ok");
        put_hex(z, zSz);
        put_hex(pub, pubSz);
        printf("\n");
    }
    wc_FreeSakkeKey(&key);
    return err;
}

static int sakke_rsk(const Bytes* z, const Bytes* pub, const Bytes* id)
{
    SakkeKey key;
    ecc_point* rsk = wc_ecc_new_point();
    byte both[3 * SAKKE_N], out[SAKKE_POINT];
    word32 outSz = sizeof(out);
    int err = rsk == NULL ? MEMORY_E : 0;
    if (err == 0 && (z->len != SAKKE_N || pub->len != SAKKE_POINT)) err = BAD_FUNC_ARG;
    if (err == 0) err = wc_InitSakkeKey(&key, NULL, INVALID_DEVID);
    if (err == 0) {
        memcpy(both, z->data, SAKKE_N);
        memcpy(both + SAKKE_N, pub->data + 1, 2 * SAKKE_N);
        err = wc_ImportSakkeKey(&key, both, sizeof(both));
    }
    if (err == 0) err = wc_MakeSakkeRsk(&key, id->data, (word16)id->len, rsk);
    if (err == 0) err = wc_EncodeSakkeRsk(&key, rsk, out, &outSz, 0);
    if (err == 0) {
        printf("ok");
        put_hex(out, outSz);
        printf("\n");
    }
    wc_FreeSakkeKey(&key);
    wc_ecc_del_point(rsk);
    return err;
}

/* A client key: KMS public key imported (and checked), identity set. */
static int sakke_load_client(SakkeKey* key, const Bytes* pub, const Bytes* id)
{
    int err = wc_InitSakkeKey(key, NULL, INVALID_DEVID);
    if (err == 0) err = wc_ImportSakkePublicKey(key, pub->data, pub->len, 0);
    if (err == 0) err = wc_SetSakkeIdentity(key, id->data, (word16)id->len);
    return err;
}

static int sakke_validate(const Bytes* a[], int timed, long iters)
{
    SakkeKey key;
    ecc_point* rsk = wc_ecc_new_point();
    int valid = 0;
    int err = rsk == NULL ? MEMORY_E : sakke_load_client(&key, a[0], a[1]);
    if (err == 0) err = wc_DecodeSakkeRsk(&key, a[2]->data, a[2]->len, rsk);
    if (err == 0) {
        double start = now_ns();
        long n = timed ? iters : 1;
        for (long i = 0; err == 0 && i < n; i++) {
            err = wc_ValidateSakkeRsk(&key, a[1]->data, (word16)a[1]->len, rsk, &valid);
        }
        if (err == 0 && timed) printf("ok %.0f\n", (now_ns() - start) / (double)iters);
        else if (err == 0) printf("ok %s\n", valid ? "01" : "00");
    }
    wc_FreeSakkeKey(&key);
    wc_ecc_del_point(rsk);
    return err;
}

static int sakke_encap_once(SakkeKey* key, const byte* ssv, byte* sed)
{
    word16 authSz = SAKKE_POINT;
    byte h[SSV_LEN];
    int err;
    memcpy(h, ssv, SSV_LEN);
    /* wolfSSL overwrites the SSV with H and writes R_(b,S) into auth. */
    err = wc_MakeSakkeEncapsulatedSSV(key, WC_HASH_TYPE_SHA256, h, SSV_LEN, sed, &authSz);
    if (err == 0 && authSz != SAKKE_POINT) err = BUFFER_E;
    if (err == 0) memcpy(sed + SAKKE_POINT, h, SSV_LEN);
    return err;
}

static int sakke_encap(const Bytes* a[], int argc, int timed, long iters)
{
    SakkeKey key;
    byte ssv[SSV_LEN], sed[SAKKE_POINT + SSV_LEN];
    word16 ssvSz = SSV_LEN;
    int err = sakke_load_client(&key, a[0], a[1]);
    if (err == 0) {
        if (argc >= 3) {
            if (a[2]->len != SSV_LEN) err = BAD_FUNC_ARG;
            else memcpy(ssv, a[2]->data, SSV_LEN);
        }
        else {
            err = wc_GenerateSakkeSSV(&key, &rng, ssv, &ssvSz);
        }
    }
    if (err == 0 && timed) {
        double start = now_ns();
        for (long i = 0; err == 0 && i < iters; i++) err = sakke_encap_once(&key, ssv, sed);
        if (err == 0) printf("ok %.0f\n", (now_ns() - start) / (double)iters);
    }
    else if (err == 0) {
        err = sakke_encap_once(&key, ssv, sed);
        if (err == 0) {
            printf("ok");
            put_hex(ssv, SSV_LEN);
            put_hex(sed, sizeof(sed));
            printf("\n");
        }
    }
    wc_FreeSakkeKey(&key);
    return err;
}

static int sakke_derive(const Bytes* a[], int argc, int timed, long iters)
{
    SakkeKey key;
    ecc_point* rsk = wc_ecc_new_point();
    byte* table = NULL;
    word32 tableLen = 0;
    byte ssv[SSV_LEN];
    int useTable = argc >= 5 && a[4]->len == 0;
    int err = rsk == NULL ? MEMORY_E : sakke_load_client(&key, a[0], a[1]);
    if (err == 0) err = wc_DecodeSakkeRsk(&key, a[2]->data, a[2]->len, rsk);
    if (err == 0 && a[3]->len != SAKKE_POINT + SSV_LEN) err = BAD_FUNC_ARG;
    if (err == 0 && useTable) {
        err = wc_GenerateSakkeRskTable(&key, rsk, NULL, &tableLen);
        if (err == LENGTH_ONLY_E) err = 0;
        if (err == 0 && tableLen > 0) {
            table = (byte*)malloc(tableLen);
            if (table == NULL) err = MEMORY_E;
            if (err == 0) err = wc_GenerateSakkeRskTable(&key, rsk, table, &tableLen);
        }
    }
    if (err == 0) err = wc_SetSakkeRsk(&key, rsk, table, tableLen);
    if (err == 0) {
        double start = now_ns();
        long n = timed ? iters : 1;
        for (long i = 0; err == 0 && i < n; i++) {
            memcpy(ssv, a[3]->data + SAKKE_POINT, SSV_LEN);
            err = wc_DeriveSakkeSSV(&key, WC_HASH_TYPE_SHA256, ssv, SSV_LEN, a[3]->data, SAKKE_POINT);
        }
        if (err == 0 && timed) printf("ok %.0f\n", (now_ns() - start) / (double)iters);
        else if (err == 0) {
            printf("ok");
            put_hex(ssv, SSV_LEN);
            printf("\n");
        }
    }
    wc_FreeSakkeKey(&key);
    wc_ecc_del_point(rsk);
    free(table);
    return err;
}

/* ---- dispatch ------------------------------------------------------------------------- */

static int dispatch(char* cmd, const Bytes* a[], int argc, int timed, long iters)
{
    if (!timed && strcmp(cmd, "eccsi-keygen") == 0 && argc == 0) return eccsi_keygen();
    if (!timed && strcmp(cmd, "eccsi-issue") == 0 && argc == 3) return eccsi_issue(a[0], a[1], a[2]);
    if (strcmp(cmd, "eccsi-sign") == 0 && argc == 5) return eccsi_sign(a, timed, iters);
    if (strcmp(cmd, "eccsi-verify") == 0 && argc == 4) return eccsi_verify(a, timed, iters);
    if (!timed && strcmp(cmd, "sakke-keygen") == 0 && argc == 0) return sakke_keygen();
    if (!timed && strcmp(cmd, "sakke-rsk") == 0 && argc == 3) return sakke_rsk(a[0], a[1], a[2]);
    if (strcmp(cmd, "sakke-validate") == 0 && argc == 3) return sakke_validate(a, timed, iters);
    if (strcmp(cmd, "sakke-encap") == 0 && (argc == 2 || argc == 3) && (!timed || argc == 3))
        return sakke_encap(a, argc, timed, iters);
    if (strcmp(cmd, "sakke-derive") == 0 && (argc == 4 || argc == 5)) return sakke_derive(a, argc, timed, iters);
    return BAD_FUNC_ARG;
}

int main(void)
{
    static char line[4 * MAX_BYTES * MAX_ARGS];
    static Bytes args[MAX_ARGS];
    const Bytes* argp[MAX_ARGS];

    if (wolfCrypt_Init() != 0 || wc_InitRng(&rng) != 0) {
        fprintf(stderr, "wolfCrypt initialisation failed\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char* save = NULL;
        char* cmd = strtok_r(line, " \r\n", &save);
        char* tok;
        int argc = 0, timed = 0, bad = 0, err;
        long iters = 1;
        if (cmd == NULL) continue;
        if (strcmp(cmd, "time") == 0) {
            char* n;
            timed = 1;
            cmd = strtok_r(NULL, " \r\n", &save);
            n = strtok_r(NULL, " \r\n", &save);
            iters = n != NULL ? strtol(n, NULL, 10) : 0;
            if (cmd == NULL || iters <= 0) bad = 1;
        }
        while (!bad && (tok = strtok_r(NULL, " \r\n", &save)) != NULL) {
            if (argc == MAX_ARGS) { bad = 1; break; }
            /* "table" is a flag, passed as an empty argument. */
            if (strcmp(tok, "table") == 0) args[argc].len = 0;
            else if (from_hex(tok, &args[argc]) != 0) { bad = 1; break; }
            argp[argc] = &args[argc];
            argc++;
        }
        err = bad ? BAD_FUNC_ARG : dispatch(cmd, argp, argc, timed, iters);
        if (err != 0) printf("err %s %d\n", cmd != NULL ? cmd : "?", err);
    }
    wc_FreeRng(&rng);
    wolfCrypt_Cleanup();
    return 0;
}
