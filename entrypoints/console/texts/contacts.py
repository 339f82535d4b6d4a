"""Spanish for the contact book (a contact, its consent, the import and a person's data), scheduled
sends, and the consent and retention policies."""

SPANISH = {
    # The contact book
    "Contacts": "Contactos",
    "Import a CSV file": "Importar un archivo CSV",
    "Export every contact (CSV)": "Exportar todos los contactos (CSV)",
    "Search contacts": "Buscar contactos",
    "Name or number": "Nombre o número",
    "Tag": "Etiqueta",
    "Tags": "Etiquetas",
    "Search": "Buscar",
    "The tenant's contacts, newest first": "Los contactos de la organización, los más recientes primero",
    "Number": "Número",
    "Profile name": "Nombre de perfil",
    "(no name)": "(sin nombre)",
    "No contact matches this search.": "Ningún contacto coincide con esta búsqueda.",
    "No contacts yet. A contact is added by each message from a new number, or by an import.": (
        "Todavía no hay contactos. Cada mensaje de un número nuevo añade un contacto, y también una "
        "importación."
    ),
    # One contact
    "Added": "Añadido",
    "Changed": "Modificado",
    "Attributes": "Atributos",
    "Notes": "Notas",
    "Messages with this contact": "Mensajes con este contacto",
    "Consent": "Consentimiento",
    "Never asked: the person may be messaged.": "Nunca se ha preguntado: se le pueden enviar mensajes.",
    "Opted out": "Dado de baja",
    "Opted in": "Dado de alta",
    "Since %(moment)s UTC.": "Desde el %(moment)s UTC.",
    "From:": "Origen:",
    "a keyword in their message": "una palabra clave en su mensaje",
    "the provider's opt-out button": "el botón de baja del proveedor",
    "the console": "la consola",
    "an import": "una importación",
    "the API": "la API",
    "Opt out": "Dar de baja",
    "Opt in": "Dar de alta",
    "The latest changes, newest first": "Los últimos cambios, los más recientes primero",
    "When (UTC)": "Cuándo (UTC)",
    "State": "Estado",
    "Who": "Quién",
    "Note": "Nota",
    "no change": "sin cambio",
    "Edit": "Editar",
    "The contact was not saved:": "El contacto no se guardó:",
    "Separated by commas, such as vip, wholesale.": "Separadas por comas, por ejemplo vip, mayorista.",
    "One key=value a line, such as city=Monterrey. These replace the contact's attributes.": (
        "Un clave=valor por línea, por ejemplo ciudad=Monterrey. Sustituyen los atributos del contacto."
    ),
    "Save": "Guardar",
    "The person's data": "Los datos de la persona",
    "Answer the person's request over what the tenant holds about them: hand it over, or erase it.": (
        "Atienda la solicitud de la persona sobre lo que la organización guarda de ella: entréguelo o "
        "bórrelo."
    ),
    "Download everything held (JSON)": "Descargar todo lo que se guarda (JSON)",
    "Erase this person's data": "Borrar los datos de esta persona",
    "Deleting removes the contact from the book. Its messages, its conversation and its consent stay.": (
        "Eliminar quita el contacto de la agenda. Sus mensajes, su conversación y su consentimiento se "
        "conservan."
    ),
    "Delete this contact": "Eliminar este contacto",
    # Notices
    "The contact was saved.": "El contacto se guardó.",
    "The person is opted out: they get no messages but those the consent policy allows.": (
        "La persona está dada de baja: no recibe más mensajes que los que permite la política de "
        "consentimiento."
    ),
    "The person is opted in again.": "La persona está dada de alta de nuevo.",
    "The contact was deleted. Its messages, conversation and consent stay.": (
        "El contacto se eliminó. Sus mensajes, su conversación y su consentimiento se conservan."
    ),
    # The import
    "Import contacts": "Importar contactos",
    "The import's report": "El informe de la importación",
    "Rows read": "Filas leídas",
    "Contacts created": "Contactos creados",
    "Contacts updated": "Contactos actualizados",
    "Contacts unchanged": "Contactos sin cambios",
    "Rows rejected": "Filas rechazadas",
    "Rows rejected (the others were imported)": "Filas rechazadas (las demás se importaron)",
    "Line": "Línea",
    "Reason": "Motivo",
    "Only the first %(n)s rejected rows are listed.": "Solo se muestran las primeras %(n)s filas rechazadas.",
    "Back to the contacts": "Volver a los contactos",
    "A CSV file": "Un archivo CSV",
    "The first line names the columns: phone (required), name, tags (separated by semicolons), notes, and attr.<key> for each attribute. Each row creates the contact of its number or sets the columns given on the one there is; an empty cell clears. The export's file imports as it is.": (  # noqa: E501
        "La primera línea nombra las columnas: phone (obligatoria), name, tags (separadas por punto y "
        "coma), notes y attr.<clave> para cada atributo. Cada fila crea el contacto de su número o "
        "cambia las columnas dadas en el que ya existe; una celda vacía borra el valor. El archivo de "
        "la exportación se importa tal cual."
    ),
    "File": "Archivo",
    "Import": "Importar",
    # Erasing a person's data
    "This deletes every message to and from %(number)s, in every WhatsApp form of the number, with their status reports and media files, the conversation, the contact, its consent history and its places on campaigns. An opt-out is kept, so nothing is sent to them again. It cannot be undone.": (  # noqa: E501
        "Esto elimina todos los mensajes enviados a %(number)s y recibidos de él, en todas las formas "
        "del número en WhatsApp, con sus informes de estado y sus archivos, la conversación, el "
        "contacto, su historial de consentimiento y su lugar en las campañas. Una baja se conserva, "
        "para que no se le vuelva a enviar nada. No se puede deshacer."
    ),
    "To hand the person what is held first, download it before erasing.": (
        "Para entregar antes a la persona lo que se guarda, descárguelo antes de borrar."
    ),
    "Erase it all": "Borrarlo todo",
    "The person's data was erased.": "Los datos de la persona se borraron.",
    "What was removed, by kind of record": "Lo que se eliminó, por tipo de registro",
    "Removed": "Eliminados",
    "%(n)s media files could not be deleted from the store now; nothing serves them any more.": (
        "%(n)s archivos no se pudieron eliminar del almacén ahora; ya nada los sirve."
    ),
    "Back to the contact": "Volver al contacto",
    # Scheduled sends
    "Scheduled sends": "Envíos programados",
    "Scheduled messages": "Mensajes programados",
    "Messages waiting for their time, soonest first. Every time here is UTC, and a new time you type is read as UTC.": (  # noqa: E501
        "Mensajes que esperan su hora, los más próximos primero. Todas las horas aquí están en UTC, y "
        "una hora nueva que escriba se lee como UTC."
    ),
    "Scheduled messages, soonest first; times in UTC": (
        "Mensajes programados, los más próximos primero; horas en UTC"
    ),
    "Send at (UTC)": "Enviar el (UTC)",
    "(no text)": "(sin texto)",
    "New time (UTC)": "Nueva hora (UTC)",
    "Reschedule": "Reprogramar",
    "Cancel the send": "Cancelar el envío",
    "No message is waiting for its time.": "Ningún mensaje espera su hora.",
    "The message was moved to its new time.": "El mensaje se movió a su nueva hora.",
    "The message was called off: it will not be sent.": "El mensaje se canceló: no se enviará.",
    "Send at (UTC, optional)": "Enviar el (UTC, opcional)",
    "Leave it empty to send now. The time is read as UTC: at least a minute and at most 35 days ahead.": (
        "Déjelo vacío para enviar ahora. La hora se lee como UTC: al menos un minuto y como mucho 35 días "
        "después."
    ),
    "The message is scheduled: it waits under Scheduled sends until its time.": (
        "El mensaje está programado: espera en Envíos programados hasta su hora."
    ),
    # The consent policy
    "Consent policy": "Política de consentimiento",
    "Set on %(moment)s UTC.": "Establecida el %(moment)s UTC.",
    "The tenant has set none: the defaults below apply.": (
        "La organización no ha establecido ninguna: se aplican los valores predeterminados de abajo."
    ),
    "A customer's message that is one of the keywords, and nothing else, opts them out or back in. Each person's state and its history are on their contact's page.": (  # noqa: E501
        "El mensaje de un cliente que es una de las palabras clave, y nada más, lo da de baja o de alta. "
        "El estado de cada persona y su historial están en la página de su contacto."
    ),
    "The tenant's rules": "Las reglas de la organización",
    "The default keywords": "Las palabras clave predeterminadas",
    "Opt-out keywords": "Palabras clave de baja",
    "Opt-in keywords": "Palabras clave de alta",
    "One a line. Compared without case, accents or punctuation around them.": (
        "Una por línea. Se comparan sin mayúsculas, acentos ni signos de puntuación alrededor."
    ),
    "These keywords": "Estas palabras clave",
    "count beside the default keywords": "cuentan junto a las predeterminadas",
    "replace the default keywords": "sustituyen a las predeterminadas",
    "Reply to an opt-out": "Respuesta a una baja",
    "Reply to an opt-in": "Respuesta a un alta",
    "Sent to confirm the change; leave it empty to send none.": (
        "Se envía para confirmar el cambio; déjela vacía para no enviar ninguna."
    ),
    "Templates that still reach a person who opted out": (
        "Plantillas que siguen llegando a una persona dada de baja"
    ),
    "Save the consent policy": "Guardar la política de consentimiento",
    "The consent policy was saved.": "La política de consentimiento se guardó.",
    "The words that opt a person out or back in, the replies, and what still reaches those who opted out.": (
        "Las palabras que dan de baja o de alta a una persona, las respuestas, y lo que sigue llegando "
        "a quienes se dieron de baja."
    ),
    # The retention policy
    "Retention": "Conservación",
    "How long the tenant's messages are kept.": "Cuánto tiempo se conservan los mensajes de la organización.",
    "Messages older than %(days)s days are deleted.": "Los mensajes de más de %(days)s días se eliminan.",
    "Messages older than %(days)s days lose their text and media; the rest is kept for statistics.": (
        "Los mensajes de más de %(days)s días pierden su texto y sus archivos; el resto se conserva para "
        "las estadísticas."
    ),
    "The tenant has no retention policy: it keeps every message.": (
        "La organización no tiene política de conservación: conserva todos los mensajes."
    ),
    "Change the policy": "Cambiar la política",
    "Set a policy": "Establecer una política",
    "Remove the policy": "Quitar la política",
    "The tenant then keeps every message from now on; what was removed already stays removed.": (
        "La organización conserva entonces todos los mensajes a partir de ahora; lo ya eliminado sigue "
        "eliminado."
    ),
    "Remove the retention policy": "Quitar la política de conservación",
    "Keep messages for (days)": "Conservar los mensajes durante (días)",
    "%(min)s to %(max)s days. Messages still being sent are never removed.": (
        "De %(min)s a %(max)s días. Los mensajes que aún se están enviando nunca se eliminan."
    ),
    "Then": "Después",
    "remove their text and media, keep the rest (redact)": (
        "quitar su texto y sus archivos, conservar el resto (redactar)"
    ),
    "delete them whole": "eliminarlos por completo",
    "Save the retention policy": "Guardar la política de conservación",
    "The retention policy was saved. The next rounds of the workers apply it.": (
        "La política de conservación se guardó. Las próximas rondas de los procesos la aplican."
    ),
    "The retention policy was removed: the tenant keeps every message.": (
        "Se quitó la política de conservación: la organización conserva todos los mensajes."
    ),
}
