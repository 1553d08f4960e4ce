//! Accounts and users: get/update/delete, link/unlink identifiers, look users up.

use shoal_proto::{Account, AccountDeviceOut, Status, User, Users};
use shoal_storage::{Command, Identity, UserRecord, UserUpdate};
use uuid::Uuid;

use super::authenticate::{bcrypt_hash, validate_custom_id, validate_device_id, validate_email, validate_username};
use super::{Core, internal, now};

pub fn user_to_api(u: &UserRecord) -> User {
    User {
        id: u.id.to_string(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        avatar_url: u.avatar_url.clone(),
        lang_tag: u.lang_tag.clone(),
        location: u.location.clone(),
        timezone: u.timezone.clone(),
        metadata: u.metadata.clone(),
        edge_count: u.edge_count,
        create_time: u.create_time,
        update_time: u.update_time,
        ..Default::default()
    }
}

pub fn account_to_api(u: &UserRecord) -> Account {
    Account {
        user: user_to_api(u),
        wallet: u.wallet.clone(),
        email: u.email.clone(),
        devices: u.devices.iter().map(|d| AccountDeviceOut { id: d.clone(), ..Default::default() }).collect(),
        custom_id: u.custom_id.clone(),
        verify_time: u.verify_time,
        disable_time: u.disable_time,
    }
}

/// Which identifier a link/unlink call names, as given by the client.
pub enum IdentityInput<'a> {
    Device(&'a str),
    Custom(&'a str),
    Email { email: &'a str, password: &'a str },
}

impl Core {
    pub async fn get_account(&self, user_id: &Uuid) -> Result<Account, Status> {
        self.read_barrier().await?;
        let user = self
            .reader
            .user(user_id)
            .map_err(internal)?
            .ok_or_else(|| Status::not_found("Account not found."))?;
        Ok(account_to_api(&user))
    }

    /// Accounts by id; unknown ids are left out.
    pub async fn accounts_get(&self, user_ids: &[Uuid]) -> Result<Vec<Account>, Status> {
        self.read_barrier().await?;
        let mut out = Vec::new();
        for id in user_ids {
            if let Some(u) = self.reader.user(id).map_err(internal)? {
                out.push(account_to_api(&u));
            }
        }
        Ok(out)
    }

    pub async fn update_account(&self, user_id: &Uuid, update: UserUpdate) -> Result<(), Status> {
        if let Some(u) = &update.username {
            validate_username(u)?;
        }
        if let Some(m) = &update.metadata
            && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(m).is_err()
        {
            return Err(Status::invalid("Metadata must be a valid JSON object."));
        }
        if update == UserUpdate::default() {
            return Ok(());
        }
        self.propose(Command::UpdateUser { user_id: *user_id, update, now: now() }).await?;
        Ok(())
    }

    pub async fn delete_account(&self, user_id: &Uuid) -> Result<(), Status> {
        self.propose(Command::DeleteUser { user_id: *user_id, now: now() + 1 }).await?;
        Ok(())
    }

    async fn to_identity(&self, input: IdentityInput<'_>, hash: bool) -> Result<Identity, Status> {
        Ok(match input {
            IdentityInput::Device(id) => {
                validate_device_id(id)?;
                Identity::Device(id.to_string())
            }
            IdentityInput::Custom(id) => {
                validate_custom_id(id)?;
                Identity::Custom(id.to_string())
            }
            IdentityInput::Email { email, password } => {
                let email = validate_email(email, password)?;
                let password_hash = if hash { bcrypt_hash(password).await? } else { String::new() };
                Identity::Email { email, password_hash }
            }
        })
    }

    pub async fn link(&self, user_id: &Uuid, input: IdentityInput<'_>) -> Result<(), Status> {
        let link = self.to_identity(input, true).await?;
        self.propose(Command::Link { user_id: *user_id, link, now: now() }).await?;
        Ok(())
    }

    pub async fn unlink(&self, user_id: &Uuid, input: IdentityInput<'_>) -> Result<(), Status> {
        // Unlinking an email needs only the address, not a valid password.
        let link = match input {
            IdentityInput::Email { email, .. } => {
                Identity::Email { email: email.to_lowercase(), password_hash: String::new() }
            }
            other => self.to_identity(other, false).await?,
        };
        self.propose(Command::Unlink { user_id: *user_id, link, now: now() }).await?;
        Ok(())
    }

    /// Users by id and/or username; unknown ones are left out.
    pub async fn get_users(&self, ids: &[String], usernames: &[String]) -> Result<Users, Status> {
        if ids.is_empty() && usernames.is_empty() {
            return Ok(Users::default());
        }
        let mut found: Vec<Uuid> = Vec::new();
        for id in ids {
            let id = Uuid::parse_str(id)
                .map_err(|_| Status::invalid(format!("ID '{id}' is not a valid system ID.")))?;
            found.push(id);
        }
        self.read_barrier().await?;
        for name in usernames {
            if let Some(id) = self.reader.user_id_by_username(name).map_err(internal)? {
                found.push(id);
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut users = Vec::new();
        for id in found {
            if !seen.insert(id) {
                continue;
            }
            if let Some(u) = self.reader.user(&id).map_err(internal)? {
                users.push(user_to_api(&u));
            }
        }
        Ok(Users { users })
    }
}
