/*
 * SSCardDriver.h - the national social security card reader interface
 * (部标读写终端接口, LD/T 33-2015 / 人社信息函〔2016〕38号) as implemented by sscard's
 * libSSCardDriver.so. See docs/reader-interface.md.
 *
 * Every function returns 0 on success or a negative code (SSCARD_* below; five-digit codes are
 * the card's status word negated as an unsigned 16-bit number, e.g. 6A82 -> -27266). On failure
 * pOutInfo holds a description of the error. Strings are NUL-terminated GBK; lists are items
 * each followed by '|'. The library never writes more than the buffer sizes below into pOutInfo
 * (NUL included); callers must provide at least that much. No PIN crosses this interface: the
 * library asks for it through its configured PIN source.
 *
 * The return type is a 64-bit long on LP64 Linux (sign-extended), which callers declaring int
 * also read correctly. Calls from several threads are serialised by the library.
 */
#ifndef SSCARD_DRIVER_H
#define SSCARD_DRIVER_H

#ifdef __cplusplus
extern "C" {
#endif

/* pOutInfo sizes the library respects (bytes, NUL included). */
#define SSCARD_OUT_BAS      1024        /* iReadCardBas and every *_HSM_Step* */
#define SSCARD_OUT_READ     (20 * 1024) /* iReadCard */
#define SSCARD_OUT_PIN      512         /* iWriteCard, PIN functions, iDoDebit */
#define SSCARD_OUT_RECORDS  2048        /* iReadDebitRecord */

/* Return codes (appendix A of the spec). */
#define SSCARD_OK                   0
#define SSCARD_WRONG_CARD_TYPE     (-1)
#define SSCARD_NO_CARD             (-2)
#define SSCARD_CARD_NOT_POWERED    (-3)
#define SSCARD_CARD_SILENT         (-4)
#define SSCARD_CANNOT_LOAD         (-5)   /* missing or bad configuration; internal error */
#define SSCARD_READER_ERROR        (-11)
#define SSCARD_NO_CONNECTION       (-12)
#define SSCARD_NOT_SUPPORTED       (-13)
#define SSCARD_BAD_PARAMETER       (-14)
#define SSCARD_BAD_CHECKSUM        (-15)
#define SSCARD_CARD_ID_FORMAT      (-20)
#define SSCARD_FAKE_CARD           (-21)
#define SSCARD_DATA_DIFFERS        (-22)
#define SSCARD_ILLEGAL_DATA        (-23)
#define SSCARD_PSAM_LEVEL_LOW      (-24)
#define SSCARD_PIN_CANCELLED       (-31)
#define SSCARD_PIN_TIMEOUT         (-32)
#define SSCARD_PIN_LENGTH          (-33)
#define SSCARD_PINS_DIFFER         (-34)
#define SSCARD_INITIAL_PIN         (-35)
#define SSCARD_TO_INITIAL_PIN      (-36)
#define SSCARD_ILLEGAL_CHARACTERS  (-41)
#define SSCARD_ILLEGAL_LENGTH      (-42)
#define SSCARD_PIN_WRONG           (-51)
#define SSCARD_PIN_BLOCKED         (-52)
#define SSCARD_NO_PSAM             (-2201)
#define SSCARD_PSAM_NO_ALGORITHM   (-2202)
#define SSCARD_PSAM_NO_KEY         (-2203)
#define SSCARD_NO_HSM_NEEDED       (-2204)

/* PSAM-based functions. iType: 1 contact, 2 contactless, 3/4 automatic. */
long iReadCardBas(int iType, char *pOutInfo);
long iReadCard(int iType, int iAuthType, char *pCardInfo, char *pFileAddr, char *pOutInfo);
long iWriteCard(int iType, char *pCardInfo, char *pFileAddr, char *pWriteData, char *pOutInfo);
long iVerifyPIN(int iType, char *pOutInfo);
long iChangePIN(int iType, char *pOutInfo);
long iReloadPIN(int iType, char *pCardInfo, char *pOutInfo);
long iUnblockPIN(int iType, char *pCardInfo, char *pOutInfo);
long iDoDebit(int iType, char *pCardInfo, char *pPayInfo, char *pOutInfo);
long iReadDebitRecord(int iType, char *pOutInfo);

/* Encryption-machine (HSM) based functions: Step1's output goes to the HSM, its answer is pKey. */
long iReadCardBas_HSM_Step1(int iType, char *pOutInfo);
long iReadCardBas_HSM_Step2(char *pKey, char *pOutInfo);
long iReadCard_HSM_Step1(int iType, char *pCardInfo, char *pFileAddr, char *pOutInfo);
long iReadCard_HSM_Step2(char *pKey, char *pOutInfo);
long iWriteCard_HSM_Step1(int iType, char *pCardInfo, char *pFileAddr, char *pOutInfo);
long iWriteCard_HSM_Step2(char *pKey, char *pWriteData, char *pOutInfo);
long iReloadPIN_HSM_Step1(int iType, char *pCardInfo, char *pOutInfo);
long iReloadPIN_HSM_Step2(char *pKey, char *pOutInfo);
long iReloadPIN_HSM_Step3(char *pKey, char *pOutInfo);
long iUnblockPIN_HSM_Step1(int iType, char *pCardInfo, char *pOutInfo);
long iUnblockPIN_HSM_Step2(char *pKey, char *pOutInfo);
long iUnblockPIN_HSM_Step3(char *pKey, char *pOutInfo);
long iDoDebit_HSM_Step1(int iType, char *pCardInfo, char *pPayInfo, char *pOutInfo);
long iDoDebit_HSM_Step2(char *pKey, char *pOutInfo);

#ifdef __cplusplus
}
#endif

#endif /* SSCARD_DRIVER_H */
