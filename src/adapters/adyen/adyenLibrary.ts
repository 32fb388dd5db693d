import * as adyenModule from '@adyen/api-library';
import type { CheckoutAPI, Client } from '@adyen/api-library';

/*
 * `@adyen/api-library` is CommonJS. Node's ESM loader sees only some of its
 * named exports (not `CheckoutAPI`), while bundlers and the CJS build see them
 * all: the classes are read from whichever object carries them.
 */
type AdyenModule = typeof adyenModule;
const namespace = adyenModule as AdyenModule & { default?: AdyenModule };
const library: AdyenModule =
  typeof (namespace as Partial<AdyenModule>).CheckoutAPI === 'function' ? namespace : (namespace.default ?? namespace);

/** The Checkout API's modification calls of a client. */
export const checkoutOf = (client: Client): CheckoutAPI => new library.CheckoutAPI(client);

/** The library's HMAC validator (constant-time comparison of the signatures). */
export const newHmacValidator = (): InstanceType<AdyenModule['hmacValidator']> => new library.hmacValidator();
