/*
 * A PKCS#11 module that puts a simulated PIN-pad reader in front of a real module
 * (SoftHSM2 in the kiosk's tests). Demo and test use only: see docs/hardware.md,
 * "The reader's own PIN pad".
 *
 * Environment:
 *   KIOSK_PINPAD_MODULE  path of the real PKCS#11 module (read once, at first load)
 *   KIOSK_PINPAD_SOCKET  UNIX socket of hardware.sim.pinpad.SimulatedPinPad (read per ask)
 *
 * Only C_GetFunctionList is exported. The function list is the real module's with:
 *   C_GetTokenInfo  adds CKF_PROTECTED_AUTHENTICATION_PATH
 *   C_Login         NULL or empty PIN: ask "pin" on the pad
 *   C_InitPIN       NULL or empty PIN: ask "new_pin" then "confirm_pin"
 *   C_SetPIN        NULL or empty old PIN: ask "old_pin"; NULL or empty new PIN:
 *                   ask "new_pin" then "confirm_pin"
 * A PIN passed in the call is forwarded unchanged. This simulated reader's refusals:
 *   the two new PINs differ  -> CKR_PIN_INVALID (as OpenSC maps a keypad PIN mismatch)
 *   wrong length on the pad  -> CKR_PIN_LEN_RANGE
 *   cancel or timeout        -> CKR_FUNCTION_CANCELED
 *   pad unreachable          -> CKR_DEVICE_ERROR
 * Typed digits are wiped from memory after use and never printed.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define PAD_MAX 32

static CK_FUNCTION_LIST shim_list;
static CK_FUNCTION_LIST_PTR real;
static CK_RV load_rv = CKR_GENERAL_ERROR;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void wipe(void *buf, size_t len)
{
	explicit_bzero(buf, len);
}

/* Ask the pad for one PIN. On CKR_OK, pin holds *len digits (not NUL-terminated). */
static CK_RV ask_pad(const char *prompt, unsigned char *pin, CK_ULONG *len)
{
	const char *path = getenv("KIOSK_PINPAD_SOCKET");
	struct sockaddr_un addr;
	char request[32];
	char reply[PAD_MAX + 16];
	size_t got = 0;
	CK_RV rv = CKR_DEVICE_ERROR;
	int fd;

	if (path == NULL || strlen(path) >= sizeof(addr.sun_path))
		return CKR_DEVICE_ERROR;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CKR_DEVICE_ERROR;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		goto out;
	snprintf(request, sizeof(request), "ask %s\n", prompt);
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t)strlen(request))
		goto out;
	while (got < sizeof(reply) - 1) {
		ssize_t n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(reply, '\n', got) != NULL)
			break;
	}
	reply[got] = '\0';
	if (strncmp(reply, "ok ", 3) == 0) {
		size_t n = strcspn(reply + 3, "\n");
		if (reply[3 + n] == '\n' && n > 0 && n <= PAD_MAX) {
			memcpy(pin, reply + 3, n);
			*len = n;
			rv = CKR_OK;
		}
	} else if (strcmp(reply, "cancel\n") == 0 || strcmp(reply, "timeout\n") == 0) {
		rv = CKR_FUNCTION_CANCELED;
	} else if (strcmp(reply, "length\n") == 0) {
		rv = CKR_PIN_LEN_RANGE;
	}
out:
	wipe(reply, sizeof(reply));
	close(fd);
	return rv;
}

/* A new PIN typed twice on the pad; the reader compares the two itself. */
static CK_RV ask_new_pin(unsigned char *pin, CK_ULONG *len)
{
	unsigned char again[PAD_MAX];
	CK_ULONG again_len = 0;
	CK_RV rv = ask_pad("new_pin", pin, len);

	if (rv != CKR_OK)
		return rv;
	rv = ask_pad("confirm_pin", again, &again_len);
	if (rv == CKR_OK && (again_len != *len || memcmp(again, pin, *len) != 0))
		rv = CKR_PIN_INVALID;
	wipe(again, sizeof(again));
	if (rv != CKR_OK)
		wipe(pin, PAD_MAX);
	return rv;
}

static int on_pad(CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	return pin == NULL || len == 0;
}

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv = real->C_GetTokenInfo(slot, info);

	if (rv == CKR_OK && info != NULL)
		info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
	return rv;
}

static CK_RV shim_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
			CK_ULONG len)
{
	unsigned char typed[PAD_MAX];
	CK_ULONG typed_len = 0;
	CK_RV rv;

	if (!on_pad(pin, len))
		return real->C_Login(session, user, pin, len);
	rv = ask_pad("pin", typed, &typed_len);
	if (rv == CKR_OK)
		rv = real->C_Login(session, user, typed, typed_len);
	wipe(typed, sizeof(typed));
	return rv;
}

static CK_RV shim_InitPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	unsigned char typed[PAD_MAX];
	CK_ULONG typed_len = 0;
	CK_RV rv;

	if (!on_pad(pin, len))
		return real->C_InitPIN(session, pin, len);
	rv = ask_new_pin(typed, &typed_len);
	if (rv == CKR_OK)
		rv = real->C_InitPIN(session, typed, typed_len);
	wipe(typed, sizeof(typed));
	return rv;
}

static CK_RV shim_SetPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
			 CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
	unsigned char old_typed[PAD_MAX], new_typed[PAD_MAX];
	CK_ULONG old_typed_len = 0, new_typed_len = 0;
	CK_RV rv = CKR_OK;

	if (on_pad(old_pin, old_len)) {
		rv = ask_pad("old_pin", old_typed, &old_typed_len);
		old_pin = old_typed;
		old_len = old_typed_len;
	}
	if (rv == CKR_OK && on_pad(new_pin, new_len)) {
		rv = ask_new_pin(new_typed, &new_typed_len);
		new_pin = new_typed;
		new_len = new_typed_len;
	}
	if (rv == CKR_OK)
		rv = real->C_SetPIN(session, old_pin, old_len, new_pin, new_len);
	wipe(old_typed, sizeof(old_typed));
	wipe(new_typed, sizeof(new_typed));
	return rv;
}

static CK_RV shim_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

static void load_real(void)
{
	const char *path = getenv("KIOSK_PINPAD_MODULE");
	CK_C_GetFunctionList get_list;
	void *handle;

	if (path == NULL || *path == '\0') {
		fprintf(stderr, "pinpad_pkcs11: KIOSK_PINPAD_MODULE is not set\n");
		return;
	}
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		fprintf(stderr, "pinpad_pkcs11: cannot load %s: %s\n", path, dlerror());
		return;
	}
	get_list = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
	if (get_list == NULL || get_list(&real) != CKR_OK || real == NULL) {
		fprintf(stderr, "pinpad_pkcs11: %s has no usable C_GetFunctionList\n", path);
		real = NULL;
		return;
	}
	shim_list = *real;
	shim_list.C_GetFunctionList = shim_GetFunctionList;
	shim_list.C_GetTokenInfo = shim_GetTokenInfo;
	shim_list.C_Login = shim_Login;
	shim_list.C_InitPIN = shim_InitPIN;
	shim_list.C_SetPIN = shim_SetPIN;
	load_rv = CKR_OK;
}

static CK_RV shim_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&load_once, load_real);
	if (load_rv != CKR_OK)
		return load_rv;
	*list = &shim_list;
	return CKR_OK;
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	return shim_GetFunctionList(list);
}
