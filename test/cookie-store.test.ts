import { createCookieStore } from '../src/cookie-store.js';
import { describeStoreConformance } from './conformance.js';

describeStoreConformance('cookie', () => createCookieStore(), { stateless: true });
