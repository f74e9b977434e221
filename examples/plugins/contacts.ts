/**
 * A contacts plugin in three releases, to show a state contract at work. Its stored state changed
 * twice: release 2 renamed `mail` to `email`, release 3 split `name` into `first` and `last`.
 * Release 3 declares both migration steps, so a state saved by release 1 or 2 is brought up to
 * version 3 on load, checked against the schema, and saved once, with the old state kept in
 * history.
 */
import { z } from 'zod';
import { defineStateContract, type Plugin, pluginIdFromName } from '../../src/index.js';

export const CONTACTS_ID = pluginIdFromName('com.example.contacts');

/** What release 1 stored: `{ contacts: [{ name: 'Ada Lovelace', mail: 'ada@example.org' }] }`. */
interface ContactV1 {
  name: string;
  mail: string;
}
interface ContactV2 {
  name: string;
  email: string;
}

const contactV3 = z.object({
  first: z.string().min(1),
  last: z.string(),
  email: z.email(),
});
const contactsV3 = z.object({ contacts: z.array(contactV3) });
export type ContactsState = z.infer<typeof contactsV3>;

export const contactsContract = defineStateContract({
  version: 3,
  schema: contactsV3,
  migrations: {
    // 1 → 2: `mail` was renamed to `email`.
    2: (data: { contacts: ContactV1[] }) => ({
      contacts: data.contacts.map(({ mail, ...rest }) => ({ ...rest, email: mail })),
    }),
    // 2 → 3: `name` was split into `first` and `last` (everything after the first space).
    3: (data: { contacts: ContactV2[] }) => ({
      contacts: data.contacts.map(({ name, ...rest }) => {
        const [first = '', ...last] = name.trim().split(/\s+/);
        return { ...rest, first, last: last.join(' ') };
      }),
    }),
  },
  default: () => ({ contacts: [] }),
});

/** Release 1 of the plugin: no contract, so it writes version 1 (as every state before contracts). */
export class ContactsV1 implements Plugin {
  readonly id = CONTACTS_ID;
  readonly name = 'contacts (release 1)';
  contacts: ContactV1[] = [];
  getState() {
    return { contacts: this.contacts.map((c) => ({ ...c })) };
  }
  setState(data: unknown) {
    this.contacts = (data as { contacts: ContactV1[] }).contacts;
  }
}

/** Release 3: a typed plugin whose state type is inferred from its schema. */
export class ContactsV3 implements Plugin<ContactsState> {
  readonly id = CONTACTS_ID;
  readonly name = 'contacts (release 3)';
  readonly stateContract = contactsContract;
  contacts: ContactsState['contacts'] = [];
  getState(): ContactsState {
    return { contacts: this.contacts };
  }
  setState(data: ContactsState): void {
    this.contacts = data.contacts;
  }
}
