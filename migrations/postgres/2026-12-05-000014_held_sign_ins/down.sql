DROP TABLE held_sign_ins;
