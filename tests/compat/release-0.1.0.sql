--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: audittrail_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audittrail_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'audittrail: % on % is refused: the log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);


--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    id character varying(36) NOT NULL,
    name character varying(128) NOT NULL,
    prefix character varying(16) NOT NULL,
    key_hash character varying(64) NOT NULL,
    roles jsonb NOT NULL,
    created_by character varying(320),
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone,
    revoked_at timestamp with time zone,
    last_used_at timestamp with time zone
);


--
-- Name: applications; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.applications (
    id character varying(36) NOT NULL,
    key character varying(64) NOT NULL,
    name character varying(128) NOT NULL,
    description character varying(1024),
    accent_color character varying(7) NOT NULL,
    allow_unknown_params boolean NOT NULL,
    archived_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: auth_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_sessions (
    id character varying(36) NOT NULL,
    token_hash character varying(64) NOT NULL,
    user_id character varying(36) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    ended_at timestamp with time zone
);


--
-- Name: checkpoints; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.checkpoints (
    tree_size bigint NOT NULL,
    root_hash bytea NOT NULL,
    created_at timestamp with time zone NOT NULL,
    note text NOT NULL
);


--
-- Name: idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.idempotency_keys (
    scope character varying(128) NOT NULL,
    key character varying(255) NOT NULL,
    request_hash character varying(64) NOT NULL,
    record_id character varying(36) NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: log_head; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.log_head (
    id integer NOT NULL,
    size bigint NOT NULL,
    last_created_at timestamp with time zone,
    root_hash bytea NOT NULL,
    registry_version bigint DEFAULT '0'::bigint NOT NULL
);


--
-- Name: log_head_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.log_head_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: log_head_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.log_head_id_seq OWNED BY public.log_head.id;


--
-- Name: param_definitions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.param_definitions (
    id character varying(36) NOT NULL,
    application_id character varying(36) NOT NULL,
    key character varying(64) NOT NULL,
    label character varying(128) NOT NULL,
    type character varying(16) NOT NULL,
    required boolean NOT NULL,
    description character varying(1024),
    sensitive boolean NOT NULL,
    enum_values jsonb,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: records; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.records (
    id character varying(36) NOT NULL,
    seq bigint NOT NULL,
    created_at timestamp with time zone NOT NULL,
    event_type character varying(128) NOT NULL,
    category character varying(64) NOT NULL,
    summary character varying(1024) NOT NULL,
    severity character varying(8) NOT NULL,
    actor character varying(400),
    application_id character varying(36),
    application_key character varying(64),
    entity_type character varying(64),
    entity_id character varying(128),
    params jsonb NOT NULL,
    metadata jsonb NOT NULL,
    ip_address character varying(45),
    source character varying(8) NOT NULL,
    tree_hashes bytea
);


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id character varying(36) NOT NULL,
    email character varying(320) NOT NULL,
    password_hash character varying(255) NOT NULL,
    roles jsonb NOT NULL,
    is_active boolean NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: log_head id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.log_head ALTER COLUMN id SET DEFAULT nextval('public.log_head_id_seq'::regclass);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.alembic_version VALUES ('0005');


--
-- Data for Name: api_keys; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.api_keys VALUES ('01a247be-72f3-71bf-bba6-ee66cf6f3f75', 'bootstrap', 'atk_test_kkk', '81feee3f0b58fceac7d85625974cb72fbb787f1e853fc1f6c18daa6d1bb7acc6', '["admin"]', 'system', '2026-12-05 19:46:33.331594+00', NULL, NULL, '2026-12-05 19:46:33.99925+00');


--
-- Data for Name: applications; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.applications VALUES ('01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'Billing', NULL, '#bd5428', true, NULL, '2026-12-05 19:46:33.986634+00', '2026-12-05 19:46:33.986634+00');


--
-- Data for Name: auth_sessions; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: checkpoints; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.checkpoints VALUES (2, '\xaa37be391fcedb71ab87df6bf022f13b4734ea9c27ed5c906f3e87070db10374', '2026-12-05 19:46:33.633052+00', 'localhost/audittrail
2
qje+OR/O23Grh99r8CLxO0c06pwn7VyQbz6HBw2xA3Q=

— localhost/audittrail ASrJFo4f27ZrC56HJ5ePnWLFZHz+I8VEh+PCHbuzU6vdXRGdtUiYIIeKQxz7DErxnEW7q8mla8H3h/w8ptERevwiUwA=
');
INSERT INTO public.checkpoints VALUES (12, '\x491a2663fa9dfcee0dc93219facac183c0f0feab6073bbcc0d4eb804996e3dc3', '2026-12-05 19:46:34.14147+00', 'localhost/audittrail
12
SRomY/qd/O4NyTIZ+srBg8Dw/qtgc7vMDU64BJluPcM=

— localhost/audittrail ASrJFlgIIU9ziLx17WQRfIb5wzvZKKDcTjeqvD3W37eL5PvujAxN/8R+TqWLaqcxjpo0KiJyooFqkrvn5ilbvMmjLAc=
');
INSERT INTO public.checkpoints VALUES (32, '\x59bbc74763d84700afa26be58b5320e61d25d01e10842aba99c51da6aa56104b', '2026-12-05 19:46:34.353992+00', 'localhost/audittrail
32
WbvHR2PYRwCvomvli1Mg5h0l0B4QhCq6mcUdpqpWEEs=

— localhost/audittrail ASrJFu6ynI3mrnvmEQCjOAZod+pnFipTtNjgFCnYIHjyfWN8K8QXWR4S8+IW+ZK/vWCrSXJ6aABqy5MxKHXiCGCUMww=
');
INSERT INTO public.checkpoints VALUES (55, '\xfb701e1e062ab781ec3351fad82d125ac2ba216e3a905608ad0147732f98af0c', '2026-12-05 19:46:34.569163+00', 'localhost/audittrail
55
+3AeHgYqt4HsM1H62C0SWsK6IW46kFYIrQFHcy+Yrww=

— localhost/audittrail ASrJFqBb04IivMKpLMppDalOWC2jP+18GFdu+Ah5b25+uMiyn3xvE9aku1bEKkCkngKmQZiE1au8nWfPDW0eSKTx0As=
');


--
-- Data for Name: idempotency_keys; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: log_head; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.log_head VALUES (1, 55, '2026-12-05 19:46:34.409089+00', '\xfb701e1e062ab781ec3351fad82d125ac2ba216e3a905608ad0147732f98af0c', 5);


--
-- Data for Name: param_definitions; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.param_definitions VALUES ('01a247be-75af-71bd-9e19-c07a5c0150e6', '01a247be-7583-7429-815c-4dc4d193714c', 'amount', 'amount', 'number', false, NULL, false, 'null', '2026-12-05 19:46:34.029735+00', '2026-12-05 19:46:34.029735+00');
INSERT INTO public.param_definitions VALUES ('01a247be-75c4-705f-aaff-5f5cccd496e0', '01a247be-7583-7429-815c-4dc4d193714c', 'card', 'card', 'string', false, NULL, true, 'null', '2026-12-05 19:46:34.052051+00', '2026-12-05 19:46:34.052051+00');


--
-- Data for Name: records; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.records VALUES ('01a247be-72f8-7696-b585-d6bd0fe07d91', 0, '2026-12-05 19:46:33.33637+00', 'user.created', 'security', 'Bootstrap admin admin@example.com created', 'low', 'system', NULL, NULL, 'user', '01a247be-72ec-77ac-9880-c85e3ef15d6e', '{}', '{}', NULL, 'system', '\xd2066499fc338bafab590238d038ab4d5ab5889a579abcf9712c3e0b559550a9');
INSERT INTO public.records VALUES ('01a247be-72ff-706d-a38d-63cce9ca6ff5', 1, '2026-12-05 19:46:33.34308+00', 'api_key.created', 'security', 'Bootstrap API key created', 'low', 'system', NULL, NULL, 'api_key', '01a247be-72f3-71bf-bba6-ee66cf6f3f75', '{}', '{}', NULL, 'system', '\xb625b26b536eaad441f79249c9fb636c395eee784cea53c953b944a46f818ca5aa37be391fcedb71ab87df6bf022f13b4734ea9c27ed5c906f3e87070db10374');
INSERT INTO public.records VALUES ('01a247be-7584-7104-981a-a6fcd2d60167', 2, '2026-12-05 19:46:33.988848+00', 'application.created', 'system', 'Application billing created', 'low', 'api_key:bootstrap', NULL, NULL, 'application', '01a247be-7583-7429-815c-4dc4d193714c', '{"key": {"new": "billing", "old": null}, "name": {"new": "Billing", "old": null}, "archived": {"new": false, "old": null}, "accent_color": {"new": "#bd5428", "old": null}, "allow_unknown_params": {"new": true, "old": null}}', '{}', '127.0.0.1', 'system', '\xcd92cf4d2b361473ad5a5bf3b5b60efa1535b77918b3d9fdfbeed5a80434ba12');
INSERT INTO public.records VALUES ('01a247be-75b2-7368-9a45-e06ca7afb931', 3, '2026-12-05 19:46:34.034075+00', 'param.created', 'system', 'Param amount of application billing created', 'low', 'api_key:bootstrap', NULL, NULL, 'param', 'billing.amount', '{"key": {"new": "amount", "old": null}, "type": {"new": "number", "old": null}, "label": {"new": "amount", "old": null}, "required": {"new": false, "old": null}, "sensitive": {"new": false, "old": null}}', '{}', '127.0.0.1', 'system', '\x847641c3256a2565bc1b7ab4ca2da12fd5059962634e3a66023881b542987db41109381a0ca482f0f3de5102aa748aceaf6605f3357181e35c2b09299563d158ad8abfc5ec95f4e5b76a107690d4919a0999b9a03d787774961b415a9771a9f6');
INSERT INTO public.records VALUES ('01a247be-75c7-7796-8073-93eef7f3e120', 4, '2026-12-05 19:46:34.055369+00', 'param.created', 'system', 'Param card of application billing created', 'low', 'api_key:bootstrap', NULL, NULL, 'param', 'billing.card', '{"key": {"new": "card", "old": null}, "type": {"new": "string", "old": null}, "label": {"new": "card", "old": null}, "required": {"new": false, "old": null}, "sensitive": {"new": true, "old": null}}', '{}', '127.0.0.1', 'system', '\xd0b379ef7e79b6890ab1d74a35579818acce25f37e12e1860f75cb2515c53e7a');
INSERT INTO public.records VALUES ('01a247be-75df-733b-be4c-1aa3cd7d0bf3', 5, '2026-12-05 19:46:34.079656+00', 'invoice.paid', 'billing', 'Refunded invoice INV-1000 (Zoë''s order 0)', 'none', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1000', '{"card": "4111-0000", "amount": 0.0}', '{"n": 0, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\xcd990d409a56b223cdb3a946c4c2c6646853438b83ca6e2f68ff3be9b91292300171ee68fe988fb0383c1c67e7d6ed7ee15b4106d9bfa1864b8f2934815fe3e7');
INSERT INTO public.records VALUES ('01a247be-75e7-7085-9453-4d124467fd24', 6, '2026-12-05 19:46:34.087951+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1001 (Zoë''s order 1)', 'low', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1001', '{"card": "4111-0001", "amount": 12.5}', '{"n": 1, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x2b1c7e76add07012c0e411eec0877c9efe089d003e7e62d7ea649b5d0e413d67');
INSERT INTO public.records VALUES ('01a247be-75f0-76ce-8858-15936877c100', 7, '2026-12-05 19:46:34.096406+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1002 (Zoë''s order 2)', 'medium', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1002', '{"card": "4111-0002", "amount": 25.0}', '{"n": 2, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x55d51281b6f7b5366ecc21a3f806b0499c75d9539ca0cc512905a5a1711d42a1a04c6fae340d2a2ee9e8a4e9c5eb6bf6d4192ffc0fc0921f704c1c843019652411f18fff6d7b400d3bf4db5df725affd1761ba60db091cf0f18d5f675f201fc805cd6b718c64c70435e788e3f339b3f179424eaf6141f89c25242b6b8013db99');
INSERT INTO public.records VALUES ('01a247be-75f5-7504-9a11-64302f6bef20', 8, '2026-12-05 19:46:34.101952+00', 'invoice.paid', 'security', 'Refunded invoice INV-1003 (Zoë''s order 3)', 'high', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1003', '{"card": "4111-0003", "amount": 37.5}', '{"n": 3, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x5f27664e981762ba3bbed2b787c00e5b977fec5deb3ec4d83956ab0407db387a');
INSERT INTO public.records VALUES ('01a247be-75f9-74ae-8ea2-2b330cb6f1ee', 9, '2026-12-05 19:46:34.105386+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1004 (Zoë''s order 4)', 'critical', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1004', '{"card": "4111-0004", "amount": 50.0}', '{"n": 4, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\xd4274b0c026a57ffb8529effa376c34d6ddd2a271119ab229f0daedd8a78e8829bf4b8bd8e3772c9bec9fb55be766cde6a17bfdc8f089958ab5dd5079a2e3cb8');
INSERT INTO public.records VALUES ('01a247be-7605-75e3-886d-25e837221d52', 10, '2026-12-05 19:46:34.117735+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1005 (Zoë''s order 5)', 'none', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1005', '{"card": "4111-0005", "amount": 62.5}', '{"n": 5, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x625923af595093d64d14ce70dd1bd356b8fb3990b9cdac3a09f33583f2f78df0');
INSERT INTO public.records VALUES ('01a247be-7611-73ce-a422-45e9c570d85c', 11, '2026-12-05 19:46:34.129374+00', 'invoice.paid', 'billing', 'Refunded invoice INV-1006 (Zoë''s order 6)', 'low', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1006', '{"card": "4111-0006", "amount": 75.0}', '{"n": 6, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x89e5a0d55b2ccce515b899e8fe12acbf17a2f19617d17595992e6efce6a2e7381894826626cbb8ac316246d1da92fb91471f5eedffd2c728c9984facfa044750b9edd2c7bcad4dc46cbb5dd00d88df38d5a13908fe5b9a65535b6746d6f85ef7');
INSERT INTO public.records VALUES ('01a247be-761e-727e-b8a9-c09fa51da698', 12, '2026-12-05 19:46:34.14254+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1007 (Zoë''s order 7)', 'medium', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1007', '{"card": "4111-0007", "amount": 87.5}', '{"n": 7, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x8c72c3b303050029135e22589ee7a3d66c84e32dd410653cecad007b0c015c15');
INSERT INTO public.records VALUES ('01a247be-7626-757e-88a2-700459254219', 13, '2026-12-05 19:46:34.150824+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1008 (Zoë''s order 8)', 'high', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1008', '{"card": "4111-0008", "amount": 100.0}', '{"n": 8, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\xac4b1e391c0fd65e051c330a6578e7bc0c38e71dfbd57b53a1a55b247fdcebc2216a0c23d1ceb4e1fb492d4e081cabb36b83fcf98123d4a60c52261cc13be596');
INSERT INTO public.records VALUES ('01a247be-762d-7627-a65b-f710fd697177', 14, '2026-12-05 19:46:34.15703+00', 'invoice.paid', 'security', 'Refunded invoice INV-1009 (Zoë''s order 9)', 'critical', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1009', '{"card": "4111-0009", "amount": 112.5}', '{"n": 9, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x9036ca8c64118ce34596a9b84d121a60f56af84a91f6a339b078b4bb226b93b1');
INSERT INTO public.records VALUES ('01a247be-7630-7380-a0fa-069d417557a1', 15, '2026-12-05 19:46:34.16038+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1010 (Zoë''s order 10)', 'none', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1010', '{"card": "4111-0010", "amount": 125.0}', '{"n": 10, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\xade544310b33acd5e5e6c622bd9cdff9bb3d3da8a3c016a9fad2ea4ee27bf5bafe99acdef35748945768647e3a4e2a585c7cac0563354c7717db581ee03275264aa09b39fb49e06f760a7ec1f7fe990d50cafece7d9ec551880f4e6f1804aa5ef46f9237c22a349f83f9ee3314a4fc08fd80af2debd72c6dc2f6d2cf6f118d1ebbefab12cfaf6c48ae53d3d371a43aac7101866e34364e60ce3773eff4361f28');
INSERT INTO public.records VALUES ('01a247be-7633-7462-b740-deedc7f2f890', 16, '2026-12-05 19:46:34.163317+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1011 (Zoë''s order 11)', 'low', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1011', '{"card": "4111-0011", "amount": 137.5}', '{"n": 11, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x035eba5686ad267007f6f426ff3f62809f6be327b6e2f31a1e39e5936ab715e9');
INSERT INTO public.records VALUES ('01a247be-763c-7267-b353-5f60c16b112b', 17, '2026-12-05 19:46:34.172491+00', 'invoice.paid', 'billing', 'Refunded invoice INV-1012 (Zoë''s order 12)', 'medium', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1012', '{"card": "4111-0012", "amount": 150.0}', '{"n": 12, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\xd387507872cda93073a0d97d63bf59db2c7547ed31215490f0bf4066e849b73b9710c6dc7770b39ac766a16bae67d6b8f0c70f7c1c22ba1d791155872b194b96');
INSERT INTO public.records VALUES ('01a247be-7647-76a8-af56-2d139a0bac0c', 18, '2026-12-05 19:46:34.183921+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1013 (Zoë''s order 13)', 'high', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1013', '{"card": "4111-0013", "amount": 162.5}', '{"n": 13, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x20b2115578194bc3c3e5b28b88a0809160918b80d51b7b1273fd922ab4bd7078');
INSERT INTO public.records VALUES ('01a247be-7651-7466-bdcd-ccef89271b81', 19, '2026-12-05 19:46:34.193179+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1014 (Zoë''s order 14)', 'critical', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1014', '{"card": "4111-0014", "amount": 175.0}', '{"n": 14, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x9d3b17653c472110a597923c656cfc5db67b48e9f5e8546cca126302e47192988befa2707b06bb74c0d9ed27c7f78c51965f2554853e9ff2ee01584230685f02b55cee471a1e41e640d21c3fe7a1833436ea0ccc3e00ba135ff2dd7859faec42');
INSERT INTO public.records VALUES ('01a247be-7666-7324-b6fe-ba4762ba31d3', 21, '2026-12-05 19:46:34.214825+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1016 (Zoë''s order 16)', 'low', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1016', '{"card": "4111-0016", "amount": 200.0}', '{"n": 16, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\xbe2a0e241e904bff8e3760c04c814f13f9c886a1defdf9a80948d3226bf6258808b05efc894f7c45818b651f7fe2884d7832a0344ef8001f0ba8cf0168b56a20');
INSERT INTO public.records VALUES ('01a247be-7677-7504-a104-dcc942664f43', 23, '2026-12-05 19:46:34.231605+00', 'invoice.paid', 'billing', 'Refunded invoice INV-1018 (Zoë''s order 18)', 'high', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1018', '{"card": "4111-0018", "amount": 225.0}', '{"n": 18, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x7ff29d5287048f795a152864c4c0ed58ca6c6d28ffffcd2c5e7678e7fb4e9c5d98a3a81c3d64703e3948d7309c8bce72e4885e8176f77f61662077eb4c5fa8b9b76bf48884672b9ac134670a13f3ced98205df5560330fc0eb76f42191990fa295b8ff575159a43b6ebbcc6b5ff4959a7daa9c24e8d63571dabfc9d05e46b682');
INSERT INTO public.records VALUES ('01a247be-7690-743d-9046-88dbdc3fd6af', 25, '2026-12-05 19:46:34.256351+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1020 (Zoë''s order 20)', 'none', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1020', '{"card": "4111-0020", "amount": 250.0}', '{"n": 20, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x0187bae594e91a3372389740eb5129def543f3881d068b994c767c76820251cab97f5c50edeea2d8d2be8fb987d594fa1df49a4b65e6edc0e239d082f0d921e5');
INSERT INTO public.records VALUES ('01a247be-76a6-725c-8a48-c2aefbed6ce2', 27, '2026-12-05 19:46:34.278574+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1022 (Zoë''s order 22)', 'medium', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1022', '{"card": "4111-0022", "amount": 275.0}', '{"n": 22, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x4982533205bda3958e3002cf75dc32406dc46cb741132a3ea07fbfaa8baf39c0e3a36fb20b21efdd51d8b5b247f2afa202b3231b70f76b79252643e577dc58b074b6558cd371f4ac17773722a31cc27b73566ca2dcf457592010f1c51a7333b1');
INSERT INTO public.records VALUES ('01a247be-76c2-76f6-9f58-f6f0820d60c2', 29, '2026-12-05 19:46:34.30678+00', 'invoice.paid', 'billing', 'Refunded invoice INV-1024 (Zoë''s order 24)', 'critical', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1024', '{"card": "4111-0024", "amount": 300.0}', '{"n": 24, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\xde213cd5c8965500b3ab79b4b3ca902792f1734d8cad452fbd254f2cdf965e96c8f1717ae4edb30ac73a7d1a340a6462f3e90aee267488d03f2a322dd97c75f7');
INSERT INTO public.records VALUES ('01a247be-76e4-705b-82d1-aa33d39d8b48', 31, '2026-12-05 19:46:34.340953+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1026 (Zoë''s order 26)', 'low', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1026', '{"card": "4111-0026", "amount": 325.0}', '{"n": 26, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x96d5747c92a35c7e21e65d8b531eb0b14d80d9b229abf2eecf339648ba3c5b6e35bbef945939aabd593bcc95295d07b3b8003a1c16273507eaf79ee95a8c1655bfe2087f6a3c07618bf38e015fae213277ed4fa283724d20da0ccbbc0947275a4d3f19422ccdbee75d99ad09742f5f107dd15234ed7e4faaefeb908ab16e24ad29533d2e38b25afd5f57962a52780c95ccf612ed2a3f7effb795842c862e2dcd59bbc74763d84700afa26be58b5320e61d25d01e10842aba99c51da6aa56104b');
INSERT INTO public.records VALUES ('01a247be-770a-735f-be86-2d201d6f76c0', 33, '2026-12-05 19:46:34.37871+00', 'invoice.refunded', 'billing', 'Refunded invoice INV-1028 (Zoë''s order 28)', 'high', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1028', '{"card": "4111-0028", "amount": 350.0}', '{"n": 28, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x3002f58cc81513248b15002f67ea0619e8d64a4386a07ca78c743b8d0df260175ffe842d5ad9b9afe7d5a3e6c150756e2cf89558ec6a85c3399c044b21e8fd2d');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-411af02587ae', 35, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 0', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xdf34424c35f536796ccf3297edc0db1129539b0f1cc6ace5253b16781c5d1263fb10ef5ab3361af0e7cfd3e239475816bd721855cbc023be45f25689ca8a6de04c55d485d99e8c59ce4d8d54d66ffc5c884d4dc094d58489b45afe113071d829');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-411b373ad7a2', 36, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 1', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xfc9e738fcb8fd92715138ee0247a92ad9ae4ffb5388101ce2caf0b712fb63487');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-411ce76c9b2c', 37, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 2', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x11585259d2080ff4afec13d27adba98cd81ccba784c7aad5318c3691dc5b697f8af6ff2e1d3a43e18d35b16324006b49df3281e98f1e9323acea2dc2da7cad98');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-411de7d54594', 38, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 3', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x2e6b0ddb7433a871c9f783bc955f230059fb48bdb9a00c6039f792d6f154c08c');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-411e93c9611d', 39, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 4', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xe1f958f155fa63057482338cf5b9bb768b80433e35baffc7fe079dfe92bccfbb0a08af66966a40377e1d3f4e510dbaaa79f86cc16d908a03faeac0d46bb1121be8c5946327fa0828a946a89fc0e854e1f4d3f98a4a88736517808097265b50b208c39cfe354e6d7ef9dc67ae2ce40d41215559b1b1cc1ce6b694583da0b7e52c');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-411f3c8b6212', 40, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 5', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x2b6e6d07ba34bf99132de642e88cd1d042d0e6bd805613399eaed7d4d2da1df6');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-412096cad72f', 41, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 6', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xe7fa0b25d7c5532d36b78677d5371f0cdb7ef35457bc14aa9f602f472616a6d41525f7d3caf1bde65827b016383d8c9d0b51e9ffefcc3fa7b1be0faa6c9b10e4');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-4121295e876a', 42, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 7', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x239d4bf2779927c6211b557d4e165a16ecfae0a7415e6b4ba92de6ee10f93f8b');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-4122b6b13d97', 43, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 8', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x9cef65c6cf285c12617b946902c72ecd6713c19c93b88c5359c0b9d59cd3a465d9b592493b8638f9f1d6687b593886f96179beed0166079b338ff68a9727497f53beb20a2e8dc06bafcbc313e4e72126150cb27fd0d72d3259fec96d9c9312de');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-41239572d99e', 44, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 9', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x0e94ac4ad9ff63539c0cbc07812d27e44f2cd2ce3b1e8816b5e2f04194628654');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-412461527698', 45, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 10', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xe3399534ce8d6c9f4f91a09798d1a8e01649915c845554e37edfa76284277b9b547812e1f678fd5dceaa07d5ac7bb910b0ef0af40102f820c6460f25c31bb97c');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-4125f735fa0b', 46, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 11', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xe8a407b6bbcb70999a6b328c267564edf5e54df07ae3a355d02636550b71c75a');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-4126772029ea', 47, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 12', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xe70d89985976fbce9a0cdbb3f5d62a743b68c5dcf5f425b9f968c65336291203d39d8c8bbba9c029b1df42d90618593a0b3f00176e90d79e0539a000b2eb5b474a1ac9f507d416876c0292cb1a4961bd0ae07e3f81cf69924ef84709c5a7a609a29d1fa98d8ea5cb856e1a058a0fa8b282842c706ba6046ced0480797d40e147551fedb723fb4cc523017bce37cee54ea2106935a36fc119670e76216dfdc99f');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-412712f6dc5c', 48, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 13', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x8f8109399eee3a39add15d1750c688bdd41831b8f55a9d381fee821aa3fdc047');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-4128287c89c0', 49, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 14', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xec2e8ec1886cf4c4856ae65fc5c3489c0055966b0730f6d21596b4f0e0bb46d47f4a442e5a9d92145c09c4da30b571938957580a2caa89218d9879f044c58cf0');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-412946f1d395', 50, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 15', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x8521fa20fefc0ce80715dafbaa4ca36f17ef07f294c418886c1a738b4d5c9507');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-412a6ff80202', 51, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 16', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x6a77deca7a2e6d26e2935d5830b46a1811c57b1dd42487541f1434cbf100caf5c978294851460e951f6a5735dd0e3f9b346255ad3c0b66c579f790c93cbe08465503fc77d4d398794c71adefef6ef7da892a940bbb07b717e130e5c385b20ea0');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-412bf4fecaf5', 52, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 17', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\x472679929c77db6861ec02554ebdc18ade246209042cc48592e736b0a44db539');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-412ccdcb06d1', 53, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 18', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xb07220ed0846f1b86c76a3a9e38b60d91ee387d4fff2710471c9b94ab51987008187d72fe59b816d052827f59e4000427fb7cc1ff8bb80aa72652f0b12e39dec');
INSERT INTO public.records VALUES ('01a247be-765c-7794-a5d6-4cea9d0276b9', 20, '2026-12-05 19:46:34.204539+00', 'invoice.paid', 'security', 'Refunded invoice INV-1015 (Zoë''s order 15)', 'none', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1015', '{"card": "4111-0015", "amount": 187.5}', '{"n": 15, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x186a55bc4180cd7ed88986095496d814e040b035e0e72828965b9ddc893504dc');
INSERT INTO public.records VALUES ('01a247be-766f-71db-855c-26bdcde3e509', 22, '2026-12-05 19:46:34.223576+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1017 (Zoë''s order 17)', 'medium', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1017', '{"card": "4111-0017", "amount": 212.5}', '{"n": 17, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x9735a9d15526b948f798f98e0ca4648ff942b2d5f2bce967dcf49338b0bec722');
INSERT INTO public.records VALUES ('01a247be-767d-707a-a4f3-678b15570923', 24, '2026-12-05 19:46:34.237988+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1019 (Zoë''s order 19)', 'critical', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1019', '{"card": "4111-0019", "amount": 237.5}', '{"n": 19, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\xc677eaf79582b58a6b117b99ce1e6ce3f4ac8c123e6e0fda2523e761c955e8e7');
INSERT INTO public.records VALUES ('01a247be-7698-762c-ac34-693048e895f0', 26, '2026-12-05 19:46:34.264572+00', 'invoice.paid', 'security', 'Refunded invoice INV-1021 (Zoë''s order 21)', 'low', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1021', '{"card": "4111-0021", "amount": 262.5}', '{"n": 21, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x62c40440762176967e160e2a5ae10e7e99b9ec567e1ca7ea154cd1a1afe2ff7a');
INSERT INTO public.records VALUES ('01a247be-76b4-7445-b5df-43f85504f6fb', 28, '2026-12-05 19:46:34.292696+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1023 (Zoë''s order 23)', 'high', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1023', '{"card": "4111-0023", "amount": 287.5}', '{"n": 23, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x0cf6f86f6deb03bf0c098c86329af82cbc3262f4e88a08712c494b771b8b7d21');
INSERT INTO public.records VALUES ('01a247be-76d4-7584-8eca-99111b74fdd4', 30, '2026-12-05 19:46:34.324199+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1025 (Zoë''s order 25)', 'none', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1025', '{"card": "4111-0025", "amount": 312.5}', '{"n": 25, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x2585433b5c1ae21019bc2726a9b5107d4cc23e658391c0879888b0147ceb88bc');
INSERT INTO public.records VALUES ('01a247be-76f8-70b6-bf93-a95c2f2112c3', 32, '2026-12-05 19:46:34.360437+00', 'invoice.paid', 'security', 'Refunded invoice INV-1027 (Zoë''s order 27)', 'medium', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1027', '{"card": "4111-0027", "amount": 337.5}', '{"n": 27, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x0c97b5200cb7f8dbdbd325f9219feb5b6d6f37542930ee47ff556fb4cb05282b');
INSERT INTO public.records VALUES ('01a247be-771a-7498-b435-d666431a082b', 34, '2026-12-05 19:46:34.393987+00', 'invoice.refunded', 'security', 'Refunded invoice INV-1029 (Zoë''s order 29)', 'critical', 'api_key:bootstrap', '01a247be-7583-7429-815c-4dc4d193714c', 'billing', 'invoice', 'INV-1029', '{"card": "4111-0029", "amount": 362.5}', '{"n": 29, "tags": ["a", "ß"]}', '127.0.0.1', 'manual', '\x737a8641011b2520b191499c67f892628c61b48b1cc8ce00098cb1ec7a47bfad');
INSERT INTO public.records VALUES ('01a247be-7729-7080-aa18-412dd73611b7', 54, '2026-12-05 19:46:34.409089+00', 'batch.item', 'general', 'item 19', 'low', 'api_key:bootstrap', NULL, NULL, NULL, NULL, '{}', '{}', '127.0.0.1', 'manual', '\xc4cd15682b99d48637a71d6adb44f45d960367b486471d3d665b341877585e51');


--
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.users VALUES ('01a247be-72ec-77ac-9880-c85e3ef15d6e', 'admin@example.com', '$argon2id$v=19$m=65536,t=3,p=4$q8BogjUSuSh1XbP/8ZAGCA$y1k6Ovi8PsZwyS05yBqQkjvwPA8GaywJp2XTOAA7bbw', '["admin"]', true, '2026-12-05 19:46:33.324267+00', '2026-12-05 19:46:33.324273+00');


--
-- Name: log_head_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.log_head_id_seq', 1, false);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: api_keys pk_api_keys; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT pk_api_keys PRIMARY KEY (id);


--
-- Name: applications pk_applications; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.applications
    ADD CONSTRAINT pk_applications PRIMARY KEY (id);


--
-- Name: auth_sessions pk_auth_sessions; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_sessions
    ADD CONSTRAINT pk_auth_sessions PRIMARY KEY (id);


--
-- Name: checkpoints pk_checkpoints; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.checkpoints
    ADD CONSTRAINT pk_checkpoints PRIMARY KEY (tree_size);


--
-- Name: idempotency_keys pk_idempotency_keys; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT pk_idempotency_keys PRIMARY KEY (scope, key);


--
-- Name: log_head pk_log_head; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.log_head
    ADD CONSTRAINT pk_log_head PRIMARY KEY (id);


--
-- Name: param_definitions pk_param_definitions; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.param_definitions
    ADD CONSTRAINT pk_param_definitions PRIMARY KEY (id);


--
-- Name: records pk_records; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.records
    ADD CONSTRAINT pk_records PRIMARY KEY (id);


--
-- Name: users pk_users; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT pk_users PRIMARY KEY (id);


--
-- Name: api_keys uq_api_keys_key_hash; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash);


--
-- Name: api_keys uq_api_keys_name; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT uq_api_keys_name UNIQUE (name);


--
-- Name: applications uq_applications_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.applications
    ADD CONSTRAINT uq_applications_key UNIQUE (key);


--
-- Name: auth_sessions uq_auth_sessions_token_hash; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_sessions
    ADD CONSTRAINT uq_auth_sessions_token_hash UNIQUE (token_hash);


--
-- Name: param_definitions uq_param_definitions_application_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.param_definitions
    ADD CONSTRAINT uq_param_definitions_application_id_key UNIQUE (application_id, key);


--
-- Name: records uq_records_seq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.records
    ADD CONSTRAINT uq_records_seq UNIQUE (seq);


--
-- Name: users uq_users_email; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT uq_users_email UNIQUE (email);


--
-- Name: ix_auth_sessions_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_auth_sessions_user_id ON public.auth_sessions USING btree (user_id);


--
-- Name: ix_records_actor_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_records_actor_created_at ON public.records USING btree (actor, created_at);


--
-- Name: ix_records_application_id_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_records_application_id_created_at ON public.records USING btree (application_id, created_at);


--
-- Name: ix_records_application_key_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_records_application_key_created_at ON public.records USING btree (application_key, created_at);


--
-- Name: ix_records_category_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_records_category_created_at ON public.records USING btree (category, created_at);


--
-- Name: ix_records_created_at_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_records_created_at_seq ON public.records USING btree (created_at, seq);


--
-- Name: ix_records_entity_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_records_entity_created_at ON public.records USING btree (entity_type, entity_id, created_at);


--
-- Name: ix_records_event_type_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_records_event_type_created_at ON public.records USING btree (event_type, created_at);


--
-- Name: ix_records_severity_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_records_severity_created_at ON public.records USING btree (severity, created_at);


--
-- Name: checkpoints checkpoints_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER checkpoints_append_only BEFORE DELETE OR UPDATE ON public.checkpoints FOR EACH ROW EXECUTE FUNCTION public.audittrail_append_only();


--
-- Name: checkpoints checkpoints_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON public.checkpoints FOR EACH STATEMENT EXECUTE FUNCTION public.audittrail_append_only();


--
-- Name: idempotency_keys idempotency_keys_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER idempotency_keys_append_only BEFORE DELETE OR UPDATE ON public.idempotency_keys FOR EACH ROW EXECUTE FUNCTION public.audittrail_append_only();


--
-- Name: records records_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER records_append_only BEFORE DELETE OR UPDATE ON public.records FOR EACH ROW EXECUTE FUNCTION public.audittrail_append_only();


--
-- Name: records records_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON public.records FOR EACH STATEMENT EXECUTE FUNCTION public.audittrail_append_only();


--
-- Name: auth_sessions fk_auth_sessions_user_id_users; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_sessions
    ADD CONSTRAINT fk_auth_sessions_user_id_users FOREIGN KEY (user_id) REFERENCES public.users(id);


--
-- Name: idempotency_keys fk_idempotency_keys_record_id_records; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT fk_idempotency_keys_record_id_records FOREIGN KEY (record_id) REFERENCES public.records(id);


--
-- Name: param_definitions fk_param_definitions_application_id_applications; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.param_definitions
    ADD CONSTRAINT fk_param_definitions_application_id_applications FOREIGN KEY (application_id) REFERENCES public.applications(id) ON DELETE CASCADE;


--
-- Name: records fk_records_application_id_applications; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.records
    ADD CONSTRAINT fk_records_application_id_applications FOREIGN KEY (application_id) REFERENCES public.applications(id);


--
-- PostgreSQL database dump complete
--


